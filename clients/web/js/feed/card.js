// One post, full screen: the video (muted until a tap), its author and the
// cameos its caption names, with follow, and the actions rail: like,
// comment, share (copy link) and remix.
import { h, compact, ago, clear } from "../dom.js";
import { icon } from "../icons.js";
import { post as httpPost, del } from "../api.js";
import { session } from "../session.js";
import { navigate } from "../router.js";
import { mediaUrl } from "../media.js";
import { avatar, toast, copyText, sheet, confirm } from "../ui.js";
import { openComments } from "../screens/comments.js";
import { openReport } from "../report.js";

// muted until the person asks for sound, then for every clip after
const sound = { on: false, listeners: new Set() };
function setSound(on) {
    sound.on = on;
    sound.listeners.forEach((fn) => fn(on));
}

const MENTION = /(^|[^\w.+\-/@])@([A-Za-z0-9_]{3,30}(?:\.[A-Za-z0-9_]{1,30})?)(?![A-Za-z0-9_])/g;

export function mentionsIn(text) {
    const seen = new Map();
    for (const m of (text || "").matchAll(MENTION)) {
        const mention = m[2].replace(/\.$/, "");
        seen.set(mention.toLowerCase(), mention);
    }
    return [...seen.values()];
}

function captionWithLinks(text) {
    const out = [];
    let last = 0;
    for (const m of (text || "").matchAll(MENTION)) {
        const start = m.index + m[1].length;
        out.push(text.slice(last, start));
        const handle = m[2].split(".")[0];
        out.push(h("a.mention", { href: `/u/${encodeURIComponent(handle)}` }, "@" + m[2]));
        last = start + 1 + m[2].length;
    }
    out.push(text.slice(last));
    return out;
}

async function follow(handle, button) {
    button.disabled = true;
    try {
        await httpPost(`/v1/users/${encodeURIComponent(handle)}/follow`);
        button.classList.add("done");
        clear(button, icon("check"));
        button.setAttribute("aria-label", `Following @${handle}`);
        toast(`Following @${handle}`, { iconName: "userPlus" });
    } catch (err) {
        button.disabled = false;
        toast(err.message, { iconName: "alert" });
    }
}

/**
 * post: a PostView. opts.stream: the feed session (likes and shares go through
 * it); opts.publicMode: signed out, on a shared page (media from /p/{id}/…).
 */
export function PostCard(post, opts = {}) {
    const me = session.isMe(post.author.id);
    const video = h("video.clip", { muted: true, playsInline: true, preload: "auto", disablePictureInPicture: true });
    video.setAttribute("playsinline", "");
    video.muted = true;
    const poster = h("div.clip-poster");
    const state = { loaded: false, active: false, completed: false, since: 0, watched: 0 };

    const likeCount = h("span", compact(post.counts.likes));
    const commentCount = h("span", compact(post.counts.comments));
    const likeBtn = h("button.rail-btn.like", { "aria-label": "Like", "aria-pressed": String(Boolean(post.liked)), onclick: () => toggleLike() },
        h("span.rail-icon", icon(post.liked ? "heartFill" : "heart")), likeCount);
    let comments = null;  // the comments sheet while it is open
    function showComments() {
        if (!guard() || comments) return;
        comments = openComments(post, { onCount: (n) => setCounts({ comments: n }), onClose: () => { comments = null; } });
    }
    const commentBtn = h("button.rail-btn", { "aria-label": "Comments", onclick: () => showComments() },
        h("span.rail-icon", icon("comment")), commentCount);
    const shareBtn = h("button.rail-btn", { "aria-label": "Share", onclick: () => share() }, h("span.rail-icon", icon("share")), h("span", "Share"));
    const remixes = post.counts.remixes || 0;
    const remixBtn = h("button.rail-btn", { "aria-label": "Remix", onclick: () => remix() }, h("span.rail-icon", icon("remix")), h("span.remix-count", remixes ? compact(remixes) : "Remix"));
    const moreBtn = h("button.rail-btn.more", { "aria-label": "More", onclick: () => more() }, h("span.rail-icon", icon("more")));

    const followBtn = me || opts.followingFeed || opts.publicMode ? null
        : h("button.follow-dot", { "aria-label": `Follow @${post.author.handle}`, onclick: (e) => {
            e.preventDefault();  // inside the avatar's link: following is not opening the profile (which cut the request off)
            e.stopPropagation();
            follow(post.author.handle, followBtn);
        } }, icon("plus"));
    const authorLink = h("a.rail-avatar", { href: `/u/${encodeURIComponent(post.author.handle)}`, "aria-label": `@${post.author.handle}` }, avatar(post.author), followBtn);

    // the people the caption mentions (a mention says who is named, not whose likeness is in
    // the video: the post does not list its cameos), each with a way to follow them
    const cameos = mentionsIn(post.caption).map((mention) => {
        const handle = mention.split(".")[0];
        const own = session.isMe(handle);
        const chipFollow = own || opts.publicMode ? null : h("button.chip-follow", { "aria-label": `Follow @${handle}`, onclick: (e) => { e.stopPropagation(); follow(handle, chipFollow); } }, icon("plus"));
        return h("span.cameo-chip", h("a", { href: `/u/${encodeURIComponent(handle)}`, "aria-label": `Mentioned: @${mention}` }, icon("at"), mention), chipFollow);
    });

    const unmute = h("button.sound-pill", { "aria-label": "Tap for sound", onclick: (e) => { e.stopPropagation(); setSound(!sound.on); } });
    const burst = h("div.heart-burst", icon("heartFill"));
    const renderSound = (on) => { clear(unmute, icon(on ? "sound" : "muted"), on ? null : h("span", "Tap for sound")); unmute.classList.toggle("on", on); video.muted = !on; };
    sound.listeners.add(renderSound);
    renderSound(sound.on);

    const el = h("article.post-card", { dataset: { postId: post.id }, "aria-label": `Video by @${post.author.handle}` },
        poster, video,
        h("div.card-scrim"),
        unmute, burst,
        h("div.rail", authorLink, likeBtn, commentBtn, shareBtn, remixBtn, moreBtn),
        h("div.card-meta",
            h("a.card-author", { href: `/u/${encodeURIComponent(post.author.handle)}` },
                h("strong", post.author.display_name || post.author.handle), h("span", `@${post.author.handle} · ${ago(post.created_at)}`)),
            post.caption ? h("p.card-caption", captionWithLinks(post.caption)) : null,
            cameos.length ? h("div.cameo-chips", cameos) : null,
            post.remix_of ? h("a.pill.remix-credit", { href: `/p/${encodeURIComponent(post.remix_of)}` }, icon("remix"), "A remix · see the original") : null,
            post.visibility !== "public" ? h("span.pill", icon(post.visibility === "private" ? "lock" : "users"), post.visibility === "private" ? "Only me" : "Followers") : null,
        ),
    );

    function guard() {
        if (session.signedIn) return true;
        navigate(`/signin?next=${encodeURIComponent(`/p/${post.id}`)}`);
        return false;
    }

    function setCounts(counts) {
        const moved = counts.comments !== undefined && counts.comments !== post.counts.comments;
        Object.assign(post.counts, counts);
        if (moved && comments) comments.refresh();
        likeCount.textContent = compact(post.counts.likes);
        commentCount.textContent = compact(post.counts.comments);
    }

    function renderLike() {
        likeBtn.setAttribute("aria-pressed", String(post.liked));
        likeBtn.querySelector(".rail-icon").replaceChildren(icon(post.liked ? "heartFill" : "heart"));
        likeBtn.classList.toggle("liked", post.liked);
    }
    renderLike();

    async function toggleLike(force) {
        if (!guard()) return;
        const on = force === undefined ? !post.liked : force;
        if (on === post.liked) return;
        post.liked = on;
        setCounts({ likes: Math.max(0, post.counts.likes + (on ? 1 : -1)) });
        renderLike();
        if (on) { likeBtn.classList.remove("pop"); void likeBtn.offsetWidth; likeBtn.classList.add("pop"); }
        try {
            if (on && opts.stream) await opts.stream.act(post.id, "like");
            else {
                const out = on ? await httpPost(`/v1/posts/${post.id}/like`) : await del(`/v1/posts/${post.id}/like`);
                setCounts({ likes: out.likes });
            }
        } catch (err) {
            post.liked = !on;
            setCounts({ likes: Math.max(0, post.counts.likes + (on ? -1 : 1)) });
            renderLike();
            toast(err.message, { iconName: "alert" });
        }
    }

    async function share() {
        let url = `${location.origin}/p/${post.id}`;
        try {
            if (session.signedIn) {
                const out = opts.stream ? await opts.stream.act(post.id, "share") : await httpPost(`/v1/posts/${post.id}/share`);
                const given = out.share_url || out.url;
                if (given) url = new URL(given, location.origin).href;
            }
        } catch { /* the link is the same either way */ }
        if (navigator.share && matchMedia("(pointer: coarse)").matches) {
            try { await navigator.share({ title: "Fabula", url }); return; } catch { /* fall back to copying */ }
        }
        const copied = await copyText(url);
        toast(copied ? "Link copied" : url, { iconName: "link" });
        el.dataset.sharedUrl = url;
    }

    function more() {
        const item = (ic, label, onclick, attrs = {}) => h("button.list-row", { onclick: () => { s.close(); onclick(); }, ...attrs }, h("span.radio-icon", icon(ic)), h("div.grow", h("div.title", label)));
        const s = sheet({ title: "This video", body: h("div.list",
            item("link", "Copy link", () => share()),
            item("shield", "Check where it came from", () => { location.href = `/verify?post=${encodeURIComponent(post.id)}`; }),
            !me && session.signedIn ? item("alert", "Report", () => openReport("post", post.id, "this video"), { dataset: { report: "" } }) : null,
            me ? item("trash", "Delete post", () => deletePost(), { dataset: { deletePost: "" } }) : null,
        ) });
    }

    async function deletePost() {
        const sure = await confirm("Delete this post?", { detail: "Its likes, comments and shares go with it. The video goes back to your drafts." });
        if (!sure) return;
        try {
            await del(`/v1/posts/${post.id}`);
            toast("Post deleted: the video is in your drafts", { iconName: "trash" });
            navigate(`/u/${encodeURIComponent(post.author.handle)}?tab=drafts`);
        } catch (err) {
            toast(err.message, { iconName: "alert" });
        }
    }

    function remix() {
        if (!guard()) return;
        // anyone's post: a remix starts from its video (same length, size and seed) and credits it
        const q = new URLSearchParams({ prompt: post.caption || "", remix: post.video_id });
        if (!me) q.set("from", post.author.handle);
        navigate(`/create?${q}`);
    }

    // a tap toggles the sound; a double tap likes
    let tapTimer = null;
    function onTap(e) {
        if (e && e.target.closest && e.target.closest("button, a")) return;
        if (tapTimer) {
            clearTimeout(tapTimer);
            tapTimer = null;
            burst.classList.remove("show"); void burst.offsetWidth; burst.classList.add("show");
            toggleLike(true);
            return;
        }
        tapTimer = setTimeout(() => { tapTimer = null; setSound(!sound.on); }, 240);
    }

    async function load() {
        if (state.loaded) return;
        state.loaded = true;
        const thumb = opts.publicMode ? post.public_thumbnail_url : post.thumbnail_url;
        mediaUrl(thumb).then((u) => { poster.style.backgroundImage = `url("${u}")`; poster.classList.add("ready"); }).catch(() => {});
        try {
            video.src = await mediaUrl(opts.publicMode ? post.public_video_url : post.content_url);
            video.classList.add("ready");
            if (state.active) play();
        } catch {
            state.loaded = false;
            poster.classList.add("missing");
        }
    }

    function unload() {
        if (!state.loaded) return;
        state.loaded = false;
        video.pause();
        video.removeAttribute("src");
        video.load();
        video.classList.remove("ready");
    }

    function play() {
        video.muted = !sound.on;
        const p = video.play();
        if (p && p.catch) p.catch(() => { video.muted = true; setSound(false); video.play().catch(() => {}); });
    }

    video.addEventListener("ended", () => { state.completed = true; video.currentTime = 0; if (state.active) play(); });
    video.addEventListener("playing", () => el.classList.add("playing"));

    return {
        el, post, setCounts, onTap, showComments,
        load, unload,
        activate() {
            state.active = true;
            state.completed = false;
            state.since = performance.now();
            load();
            if (state.loaded && video.src) play();
        },
        /** How it was watched: {watchMs, completed}. */
        deactivate() {
            const watchMs = state.active ? performance.now() - state.since : 0;
            state.active = false;
            video.pause();
            return { watchMs, completed: state.completed };
        },
        destroy() { sound.listeners.delete(renderSound); unload(); },
    };
}
