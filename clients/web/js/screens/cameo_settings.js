// Cameo settings: who may use it, requests to answer and grants to revoke,
// preferences and restrictions, the videos it appears in, pause and delete.
import { h, clear, ago } from "../dom.js";
import { icon } from "../icons.js";
import { config } from "../config.js";
import { get, patch, post as httpPost, del } from "../api.js";
import { navigate } from "../router.js";
import { session } from "../session.js";
import { avatar, confirm, empty, errorState, skeletonRows, toast, section } from "../ui.js";

const PERMISSIONS = [
    ["only_me", "lock", "Only me", "Nobody else can use your cameo.", "Nobody else can use this character."],
    ["approved", "check", "People I approve", "Others ask first; you answer each request.", "Others ask first; you answer each request."],
    ["mutuals", "users", "Mutuals", "People you follow who follow you back.", "People you follow who follow you back."],
    ["everyone", "globe", "Everyone", "Anyone on Fabula can put you in a video.", "Anyone on Fabula can put it in a video."],
];
const STATE_PILL = { published: "ok", draft: "", queued: "warn", in_progress: "warn", failed: "danger", deleted: "danger" };

export function CameoSettingsScreen() {
    const body = h("div.screen-body", skeletonRows(5));
    const el = h("section.screen.scroll.cameo-settings",
        h("header.topbar", h("a.icon-btn", { href: "/me", "aria-label": "Back" }, icon("back")), h("h1", "Cameo settings")), body);
    let cameos = [];
    let selected = null;

    async function load() {
        try {
            cameos = (await get("/v1/me/cameos")).data;
        } catch (err) {
            return clear(body, errorState(err, load));
        }
        if (!cameos.length) {
            return clear(body, empty({ iconName: "face", title: "No cameo yet", text: "Record a short clip once, then put yourself in any video, and decide who else may.",
                action: h("a.btn.primary", { href: "/cameo/new" }, icon("camera"), "Make your cameo") }));
        }
        if (!selected || !cameos.find((c) => c.id === selected.id)) selected = cameos.find((c) => c.kind === "human") || cameos[0];
        else selected = cameos.find((c) => c.id === selected.id);
        render();
    }

    async function change(changes, okText) {
        try {
            selected = await patch(`/v1/cameos/${selected.id}`, changes);
            cameos = cameos.map((c) => (c.id === selected.id ? selected : c));
            if (okText) toast(okText, { iconName: "check" });
            render();
        } catch (err) {
            toast(err.message, { iconName: "alert", ms: 4000 });
            render();
        }
    }

    function render() {
        const c = selected;
        const picker = cameos.length > 1 ? h("div.segmented", cameos.map((x) => h("button", { "aria-pressed": String(x.id === c.id), onclick: () => { selected = x; render(); } }, x.kind === "human" ? "You" : x.name))) : null;
        const header = h("div.cameo-head",
            h("div.cameo-avatar", icon("face")),
            h("div.grow", h("h2", c.name), h("p.meta", c.mention),
                h("div.chips", c.face ? h("span.pill.ok", icon("shield"), "Verified") : null, c.paused ? h("span.pill.warn", "Paused") : h("span.pill.accent", "Active"))));

        // an account under 18 cannot open its cameos to everyone (the server refuses it too)
        const offered = PERMISSIONS.filter(([value]) => value !== "everyone" || !(session.user && session.user.minor) || c.permission === "everyone");
        const perms = h("div.radio-list", { role: "radiogroup", "aria-label": "Who can use it" }, offered.map(([value, ic, label, yours, its]) =>
            h("button.radio-row", { role: "radio", "aria-checked": String(c.permission === value), dataset: { permission: value }, onclick: () => c.permission !== value && change({ permission: value }, `Now: ${label.toLowerCase()}`) },
                h("span.radio-icon", icon(ic)), h("span.grow", h("strong", label), h("span.meta", c.kind === "character" ? its : yours)), h("span.radio-dot"))));

        const requests = h("div.list", skeletonRows(1));
        const approved = h("div.list", skeletonRows(1));
        const appearances = h("div.list", skeletonRows(2));

        const prefInput = h("input.input", { placeholder: "e.g. always wearing a red scarf", maxLength: 200, "aria-label": "New preference" });
        const prefs = h("div.pref-list", (c.preferences || []).map((p, i) => h("div.pref", h("span", p),
            h("button.icon-btn", { "aria-label": `Remove “${p}”`, onclick: () => change({ preferences: c.preferences.filter((_, j) => j !== i) }) }, icon("close")))));
        const prefForm = (c.preferences || []).length < 5 ? h("form.pref-add", {
            onsubmit: (e) => { e.preventDefault(); const v = prefInput.value.trim(); if (v) change({ preferences: [...(c.preferences || []), v] }, "Preference added"); },
        }, prefInput, h("button.btn.small", { type: "submit" }, "Add")) : h("p.hint", "That's the most: five preferences.");

        const restrictions = h("div.toggle-list", config.restrictions.map((r) => {
            const input = h("input", { type: "checkbox", checked: c.restrictions.includes(r.id), "aria-label": r.label, dataset: { restriction: r.id } });
            input.onchange = () => change({ restrictions: input.checked ? [...c.restrictions, r.id] : c.restrictions.filter((x) => x !== r.id) });
            return h("label.toggle-row", h("span.grow", r.label.charAt(0).toUpperCase() + r.label.slice(1)), h("span.switch", input, h("span")));
        }));

        const pause = h("input", { type: "checkbox", checked: c.paused, "aria-label": "Pause my cameo" });
        pause.onchange = () => change({ paused: pause.checked }, pause.checked ? "Paused: nobody can use it now" : "Active again");

        clear(body,
            picker, header,
            section("Who can use it", perms),
            section("Requests", requests),
            section("People you approved", approved),
            section("Preferences", h("p.hint", "Added to every prompt that uses your cameo."), prefs, prefForm),
            section("Never put me in", restrictions),
            section("Videos with your cameo", appearances),
            section("Pause and delete",
                h("label.toggle-row", h("span.grow", h("strong", "Pause"), h("span.meta", "Nobody, you included, can use it until you turn this off.")), h("span.switch", pause, h("span"))),
                h("button.btn.danger.block", { onclick: remove, style: { marginTop: "12px" } }, icon("trash"), "Delete cameo")));
        loadGrants(requests, approved);
        loadAppearances(appearances);
    }

    async function answer(grant, action) {
        try {
            await httpPost(`/v1/cameos/${selected.id}/grants/${grant.user.id}/${action}`);
            toast({ approve: `@${grant.user.handle} can use your cameo`, decline: "Request declined", revoke: `@${grant.user.handle} can't use it any more` }[action], { iconName: "check" });
            render();
        } catch (err) { toast(err.message, { iconName: "alert" }); }
    }

    async function loadGrants(requests, approved) {
        try {
            const [waiting, yes] = await Promise.all([
                get(`/v1/cameos/${selected.id}/grants?state=requested&limit=50`),
                get(`/v1/cameos/${selected.id}/grants?state=approved&limit=50`),
            ]);
            const row = (g, buttons) => h("div.list-row", { dataset: { grantUser: g.user.handle } }, avatar(g.user),
                h("div.grow", h("a.title", { href: `/u/${g.user.handle}` }, `@${g.user.handle}`), h("div.meta", `asked ${ago(g.requested_at)}`)), buttons);
            clear(requests, waiting.data.length ? waiting.data.map((g) => row(g, h("div.row-actions",
                h("button.btn.small.ok", { onclick: () => answer(g, "approve") }, "Approve"),
                h("button.btn.small.ghost", { onclick: () => answer(g, "decline") }, "Decline"))))
                : empty({ iconName: "bell", title: "No requests", text: selected.permission === "approved" ? "When someone asks to use your cameo, it shows up here." : "Choose “People I approve” to take requests." }));
            clear(approved, yes.data.length ? yes.data.map((g) => row(g, h("button.btn.small.danger", { onclick: () => answer(g, "revoke") }, "Revoke")))
                : empty({ iconName: "users", title: "Nobody yet", text: "People you approve can use your cameo until you revoke it." }));
        } catch (err) { clear(requests, errorState(err)); clear(approved); }
    }

    async function loadAppearances(list) {
        try {
            const page = await get(`/v1/cameos/${selected.id}/appearances?limit=50`);
            clear(list, page.data.length ? page.data.map((a) => h("div.list-row", { dataset: { videoId: a.video_id } },
                a.creator ? avatar(a.creator) : h("span.avatar"),
                h("div.grow",
                    a.post_id ? h("a.title", { href: `/p/${a.post_id}` }, a.creator ? `by @${a.creator.handle}` : "by a deleted account") : h("span.title", a.creator ? `by @${a.creator.handle}` : "by a deleted account"),
                    h("div.meta", h("span", `${ago(a.created_at)} · `), h(`span.pill.${STATE_PILL[a.state] || ""}`, a.state.replace("_", " ")))),
                h("button.icon-btn", { "aria-label": "Delete this video", onclick: () => removeAppearance(a) }, icon("trash"))))
                : empty({ iconName: "film", title: "No videos yet", text: "Every video your cameo appears in is listed here, and you can delete any of them." }));
        } catch (err) { clear(list, errorState(err)); }
    }

    async function removeAppearance(a) {
        if (!(await confirm("Delete this video?", { detail: "It leaves every feed and is deleted for its creator too." }))) return;
        try { await del(`/v1/cameos/${selected.id}/appearances/${a.video_id}`); toast("Video deleted", { iconName: "trash" }); render(); }
        catch (err) { toast(err.message, { iconName: "alert" }); }
    }

    async function remove() {
        if (!(await confirm("Delete your cameo?", { detail: "Your face data, voice sample and every permission go at once. Videos already made stay listed so you can delete them." }))) return;
        try {
            await del(`/v1/cameos/${selected.id}`);
            toast("Cameo deleted", { iconName: "trash" });
            selected = null;
            if (cameos.length > 1) load(); else navigate("/me");
        } catch (err) { toast(err.message, { iconName: "alert" }); }
    }

    load();
    return { el, title: "Cameo settings · Fabula" };
}
