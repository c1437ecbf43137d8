// A post's own page, /p/{id}: the link people share. It plays without
// signing in when the post is public (the server wrote the post and its
// card tags into the page); signed in, it is the post with every action.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { config } from "../config.js";
import { get } from "../api.js";
import { session } from "../session.js";
import { navigate } from "../router.js";
import { PostCard } from "../feed/card.js";
import { empty } from "../ui.js";

const REFRESH_MS = 10_000; // how often an open post reads its counts again, while the page is visible

/** query: `comments=1` opens its comments (a comment's or a reply's notification leads here). */
export function PostScreen(id, query = new URLSearchParams()) {
    const stage = h("div.post-stage", h("div.skeleton", { style: { position: "absolute", inset: "0", borderRadius: "0" } }));
    const signedOut = !session.signedIn;
    const bar = h("div.post-bar",
        signedOut ? h("a.brand-chip", { href: "/" }, h("span.logo", icon("play")), h("span.wordmark", "fabula"))
            : h("button.icon-btn.glass", { "aria-label": "Back", onclick: () => (history.length > 1 ? history.back() : navigate("/")) }, icon("back")),
        signedOut ? h("a.btn.small.light", { href: `/signin?next=${encodeURIComponent(`/p/${id}`)}` }, "Sign in") : null);
    const cta = signedOut ? h("div.join-bar", h("div", h("strong", "Make videos like this"), h("span", "Join Fabula to like, comment and star in your own.")),
        h("a.btn.small.primary", { href: `/signin?mode=signup&next=${encodeURIComponent(`/p/${id}`)}` }, "Join")) : null;
    const el = h("section.screen.post-page", stage, bar, cta);
    let card = null;
    let timer = 0;

    // likes and comments others add while it is open (the feed gets them live over its session)
    async function refresh() {
        if (!card || document.visibilityState !== "visible") return;
        try {
            card.setCounts((await get(`/v1/posts/${id}`)).counts);
        } catch { /* gone meanwhile, or offline: the counts stay as they are */ }
    }

    function show(post, publicMode) {
        card = PostCard(post, { publicMode });
        clear(stage, card.el);
        card.el.addEventListener("click", (e) => card.onTap(e));
        card.activate();
        el.dataset.postId = post.id;
    }

    async function load() {
        const given = config.data && config.data.post_id === id ? config.data.post : null;
        if (signedOut) {
            if (given) return show(given, true);
            return clear(stage, empty({ iconName: "lock", title: "This video isn't public", text: "Sign in to see it if it was shared with you.",
                action: h("a.btn.small.primary", { href: `/signin?mode=signin&next=${encodeURIComponent(`/p/${id}`)}` }, "Sign in") }));
        }
        try {
            show(await get(`/v1/posts/${id}`), false);
            timer = setInterval(refresh, REFRESH_MS);
            if (query.get("comments") === "1") card.showComments();
        } catch (err) {
            clear(stage, empty({ iconName: "film", title: "This video is gone", text: err.message, action: h("a.btn.small.primary", { href: "/" }, "Go to your feed") }));
        }
    }
    load();
    return { el, title: "Fabula", destroy() { clearInterval(timer); if (card) { card.deactivate(); card.destroy(); } } };
}
