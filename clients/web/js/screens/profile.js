// A profile: who they are, follow, followers and following, and tabs for
// their posts, their cameos, and (for oneself) drafts.
import { h, clear, compact } from "../dom.js";
import { icon } from "../icons.js";
import { get, post as httpPost, del } from "../api.js";
import { session } from "../session.js";
import { navigate } from "../router.js";
import { authedImage, mediaUrl } from "../media.js";
import { avatar, confirm, empty, errorState, sheet, skeletonGrid, skeletonRows, toast, busy } from "../ui.js";
import { openReport } from "../report.js";
import { personRow } from "../people.js";
import { draftChoices, forgetDraft, visibilityPicker } from "../drafts.js";

const PERMISSION_TEXT = { only_me: "Only them", approved: "Ask to use", mutuals: "Mutuals only", everyone: "Open to everyone" };

// how a cameo stands for the one looking: the owner reads who may use it, the others whether they may
function cameoStanding(c) {
    if (c.paused) return "paused";
    if (c.owner && session.isMe(c.owner.id)) return OWNER_TEXT[c.permission];
    if (c.my_grant === "approved") return "you may use it";
    return PERMISSION_TEXT[c.permission].toLowerCase();
}

const OWNER_TEXT = { only_me: "only you use it", approved: "used by those you approve", mutuals: "mutuals may use it", everyone: "anyone may use it" };

// followers or following; on one's own followers, each can be removed
function openPeople(handle, which, isMe, onRemoved) {
    const s = sheet({ title: which === "followers" ? "Followers" : "Following", body: skeletonRows(5) });
    const removable = isMe && which === "followers";
    function removeButton(u) {
        const button = h("button.btn.small.ghost", { dataset: { removeFollower: u.handle } }, "Remove");
        button.onclick = async () => {
            if (!(await confirm(`Remove @${u.handle}?`, { action: "Remove", detail: "They stop following you and aren't told. They can follow you again (on a private account, by asking)." }))) return;
            busy(button, true);
            try {
                await del(`/v1/me/followers/${encodeURIComponent(u.handle)}`);
                button.replaceWith(h("span.pill", "Removed"));
                onRemoved && onRemoved();
            } catch (err) { busy(button, false); toast(err.message, { iconName: "alert" }); }
        };
        return button;
    }
    get(`/v1/users/${encodeURIComponent(handle)}/${which}?limit=100`).then((page) => {
        clear(s.body, page.data.length ? h("div.list", page.data.map((u) => personRow(u, removable && !session.isMe(u.id) ? removeButton(u) : null)))
            : empty({ iconName: "users", title: which === "followers" ? "No followers yet" : "Not following anyone yet" }));
        s.body.querySelectorAll("a").forEach((a) => a.addEventListener("click", () => s.close()));
    }).catch((err) => clear(s.body, errorState(err)));
}

export function ProfileScreen(handle, isMe) {
    const params = new URLSearchParams(location.search);
    let tab = params.get("tab") === "drafts" && isMe ? "drafts" : params.get("tab") === "cameos" ? "cameos" : "posts";
    const head = h("div.profile-head", h("div.skeleton.circle", { style: { width: "84px", height: "84px" } }), h("div.skeleton.line", { style: { width: "40%" } }));
    const tabsEl = h("div.profile-tabs", { role: "tablist" });
    const panel = h("div.profile-panel");
    const menuBtn = isMe ? h("a.icon-btn", { href: "/settings", "aria-label": "Settings" }, icon("settings"))
        : h("button.icon-btn", { "aria-label": "More", onclick: openMore }, icon("more"));
    const el = h("section.screen.scroll.profile",
        h("header.topbar", isMe ? null : h("button.icon-btn", { "aria-label": "Back", onclick: () => history.length > 1 ? history.back() : navigate("/") }, icon("back")), h("h1", `@${handle}`),
            isMe ? h("a.icon-btn", { href: "/search", "aria-label": "Search people" }, icon("search")) : null, menuBtn),
        head, tabsEl, panel);
    let user = null;

    function openMore() {
        const s = sheet({ title: `@${handle}`, body: h("div.list",
            h("button.list-row", { dataset: { reportUser: "" }, onclick: () => { s.close(); openReport("user", handle, `@${handle}`); } },
                h("span.radio-icon", icon("shield")), h("div.grow", h("div.title", "Report"), h("div.meta", "Tell the moderators what is wrong"))),
            h("button.list-row", { dataset: { blockUser: "" }, onclick: () => { s.close(); blockThem(); } },
                h("span.radio-icon", icon("block")), h("div.grow", h("div.title", `Block @${handle}`), h("div.meta", "Neither of you sees the other; follows both ways end"))),
        ) });
    }

    async function blockThem() {
        if (!(await confirm(`Block @${handle}?`, { action: "Block", detail: "They won't see your profile, posts or comments, and you won't see theirs. Follows both ways end. They aren't told. You can unblock them in Settings." }))) return;
        try {
            await httpPost(`/v1/users/${encodeURIComponent(handle)}/block`);
            toast(`You blocked @${handle}`, { iconName: "block" });
            navigate("/settings/blocked", { replace: true });
        } catch (err) { toast(err.message, { iconName: "alert" }); }
    }

    async function loadHead() {
        try {
            user = await get(`/v1/users/${encodeURIComponent(handle)}`);
        } catch (err) {
            if (err.status === 404) return gone();
            clear(head, errorState(err, loadHead));
            return;
        }
        if (isMe) session.update(user);
        const followBtn = isMe ? h("a.btn.small.ghost", { href: "/cameo" }, icon("face"), "Cameo") : h("button.btn.small.primary", { onclick: toggleFollow, dataset: { follow: "" } }, "Follow");
        let following = false;
        let requested = false;  // asked to follow a private account, not answered yet
        async function toggleFollow() {
            busy(followBtn, true);
            try {
                const path = `/v1/users/${encodeURIComponent(handle)}/follow`;
                const rel = following || requested ? await del(path) : await httpPost(path);  // a delete takes a request back too
                following = rel.following;
                requested = Boolean(rel.requested);
                user = rel.user;
                busy(followBtn, false);
                renderFollow();
                stats();
            } catch (err) { busy(followBtn, false); renderFollow(); toast(err.message, { iconName: "alert" }); }
        }
        function renderFollow() {
            if (isMe) return;
            followBtn.textContent = following ? "Following" : requested ? "Requested" : "Follow";
            followBtn.className = `btn small ${following || requested ? "ghost" : "primary"}`;
            followBtn.setAttribute("aria-pressed", String(following || requested));
        }
        const statsEl = h("div.stats");
        function stats() {
            clear(statsEl,
                h("button.stat", { onclick: () => openPeople(handle, "followers", isMe, () => { user.followers = Math.max(0, user.followers - 1); stats(); }) }, h("strong", compact(user.followers)), h("span", user.followers === 1 ? "follower" : "followers")),
                h("button.stat", { onclick: () => openPeople(handle, "following", isMe) }, h("strong", compact(user.following)), h("span", "following")));
        }
        stats();
        clear(head, avatar(user, "lg"),
            h("h2", user.display_name || user.handle), h("p.meta", `@${user.handle}`, user.private ? " · private account" : ""),
            user.bio ? h("p.bio", user.bio) : null,
            statsEl, followBtn);
        if (!isMe) {
            try {
                const rel = await get(`/v1/users/${encodeURIComponent(user.handle)}/relationship`);
                following = rel.following;
                requested = Boolean(rel.requested);  // asked, and the owner has not answered yet
            } catch { /* shown as not following */ }
            renderFollow();
        }
    }

    // no such account, or one that blocks the viewer (the server answers both alike)
    function gone() {
        for (const part of [tabsEl, panel, menuBtn]) part.style.display = "none";  // their own CSS outranks [hidden]
        clear(head, empty({ iconName: "user", title: "This account doesn't exist", text: `There is no @${handle} to show you. The handle may be mistyped, or the account is gone.`,
            action: h("a.btn.small.primary", { href: "/" }, "Go to your feed") }));
    }

    function renderTabs() {
        const names = [["posts", "grid", "Posts"], ["cameos", "face", "Cameos"]];
        if (isMe) names.push(["drafts", "draft", "Drafts"]);
        clear(tabsEl, names.map(([name, ic, label]) => h("button", { role: "tab", "aria-selected": String(tab === name), dataset: { tab: name }, onclick: () => { tab = name; history.replaceState({}, "", `${location.pathname}?tab=${name}`); renderTabs(); loadPanel(); } }, icon(ic), label)));
    }

    function tile(thumbPath, href, overlay, onclick, label) {
        const img = authedImage(thumbPath);
        return h(href ? "a.tile" : "button.tile", { href, onclick, "aria-label": label }, img, overlay ? h("span.tile-meta", overlay) : null);
    }

    async function loadPanel() {
        const which = tab;
        clear(panel, which === "cameos" ? skeletonRows(2) : skeletonGrid(6));
        try {
            if (which === "posts") {
                const page = await get(`/v1/users/${encodeURIComponent(handle)}/posts?limit=30`);
                if (tab !== which) return;
                clear(panel, page.data.length
                    ? h("div.grid", page.data.map((p) => tile(p.thumbnail_url, `/p/${p.id}`, [icon("heart"), compact(p.counts.likes)])))
                    : empty({ iconName: "film", title: isMe ? "Your videos show up here" : "No posts yet", text: isMe ? "Make something and share it." : null, action: isMe ? h("a.btn.small.primary", { href: "/create" }, icon("plus"), "Create") : null }));
            } else if (which === "drafts") {
                const page = await get("/v1/me/drafts?limit=30");
                if (tab !== which) return;
                clear(panel, page.data.length
                    ? h("div.grid", page.data.map((v) => tile(`/v1/videos/${v.id}/content?variant=thumbnail`, null, [icon("draft"), "Draft"], () => openDraft(v), `Draft: ${v.prompt || "a video"}`)))
                    : empty({ iconName: "draft", title: "No drafts", text: "Videos you make but don't post wait here." }));
            } else {
                const [page, featured] = await Promise.all([
                    get(isMe ? "/v1/me/cameos" : `/v1/users/${encodeURIComponent(handle)}/cameos`),
                    get(`/v1/users/${encodeURIComponent(handle)}/cameo-posts?limit=30`),
                ]);
                if (tab !== which) return;
                if (!page.data.length && !featured.data.length) {
                    return clear(panel, isMe ? empty({ iconName: "face", title: "No cameo yet", text: "Record yourself once and star in any video.", action: h("a.btn.small.primary", { href: "/cameo/new" }, icon("camera"), "Make your cameo") })
                        : empty({ iconName: "face", title: "No cameo", text: `@${handle} hasn't made a cameo.` }));
                }
                // the cameos, then the posts (by anyone) they appear in
                clear(panel, page.data.length ? h("div.list.cameo-list", page.data.map(cameoRow)) : null,
                    h("h2.section-title.featured-title", isMe ? "Videos with your cameos" : `Videos with @${handle}'s cameos`),
                    featured.data.length
                        ? h("div.grid.featured", featured.data.map((p) => tile(p.thumbnail_url, `/p/${p.id}`, [icon("face"), `@${p.author.handle}`])))
                        : h("p.hint.featured-none", isMe ? "Posts others or you make with your cameo show up here." : "None you can see yet."));
            }
        } catch (err) {
            clear(panel, err.status === 404 ? null : errorState(err, loadPanel));  // a missing account says so once, above
        }
    }

    function cameoRow(c) {
        let action;
        if (isMe) action = h("a.btn.small.ghost", { href: "/cameo" }, "Settings");
        else if (c.my_grant === "approved" || c.permission === "everyone") action = h("a.btn.small.primary", { href: `/create?prompt=${encodeURIComponent(c.mention + " ")}` }, "Use");
        else if (c.my_grant === "requested") action = h("span.pill.warn", "Requested");
        else if (c.permission === "approved") {
            action = h("button.btn.small.primary", { dataset: { request: c.id }, onclick: async () => {
                busy(action, true);
                try { await httpPost(`/v1/cameos/${c.id}/requests`); toast(`Asked @${handle}`, { iconName: "send" }); action.replaceWith(h("span.pill.warn", "Requested")); }
                catch (err) { busy(action, false); toast(err.message, { iconName: "alert" }); }
            } }, "Ask to use");
        } else action = h("span.pill", PERMISSION_TEXT[c.permission]);
        return h("div.list-row", { dataset: { cameoId: c.id } }, h("div.cameo-avatar.sm", icon("face")),
            h("div.grow", h("div.title", c.mention), h("div.meta", `${c.kind === "human" ? "Cameo" : "Character"} · ${cameoStanding(c)}`)), action);
    }

    function openDraft(video) {
        const player = h("video.result", { controls: true, loop: true, playsInline: true, autoplay: true, muted: true });
        player.muted = true;
        mediaUrl(`/v1/videos/${video.id}/content`).then((u) => { player.src = u; });
        const kept = draftChoices(video.id);  // what was chosen when it was saved, in this browser
        const caption = h("textarea.textarea", { rows: 2, maxLength: 2200, "aria-label": "Caption" }, kept ? kept.caption : video.prompt);
        const vis = visibilityPicker(kept ? kept.visibility : "public");
        const postBtn = h("button.btn.primary", { style: { flex: "1" } }, icon("send"), "Post");
        const s = sheet({ title: "Draft", body: h("div", { style: { display: "flex", flexDirection: "column", gap: "12px" } }, h("div.result-frame", player), caption, vis.el),
            foot: [h("button.btn.danger", { onclick: discard, "aria-label": "Delete draft" }, icon("trash")), postBtn] });
        postBtn.onclick = async () => {
            busy(postBtn, true);
            try {
                const p = await httpPost("/v1/posts", { video_id: video.id, caption: caption.value.trim(), visibility: vis.value });
                forgetDraft(video.id);
                s.close();
                toast("Posted", { iconName: "check" });
                navigate(`/p/${p.id}`);
            } catch (err) { busy(postBtn, false); toast(err.message, { iconName: "alert" }); }
        };
        async function discard() {
            if (!(await confirm("Delete this draft?"))) return;
            try { await del(`/v1/videos/${video.id}`); forgetDraft(video.id); s.close(); toast("Draft deleted", { iconName: "trash" }); loadPanel(); }
            catch (err) { toast(err.message, { iconName: "alert" }); }
        }
    }

    loadHead();
    renderTabs();
    loadPanel();
    return { el, title: `@${handle} · Fabula` };
}
