// The feed: full-screen clips over a WebSocket feed session, For you or
// Following, swiped by touch, wheel or arrow keys. Each clip sends an
// impression when it comes on screen and a view (with its watch time),
// complete or skip when it leaves; the next clips are fetched ahead.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { navigate } from "../router.js";
import { FeedStream } from "../feed/stream.js";
import { Swiper } from "../feed/swiper.js";
import { PostCard } from "../feed/card.js";
import { preload } from "../media.js";
import { empty, toast } from "../ui.js";

const AHEAD = 2; // clips fetched ahead of the one on screen
const KEEP = 1; // clips kept loaded behind it
const SKIP_MS = 1500;

export function FeedScreen(kind, query) {
    const track = h("div.feed-track");
    const pull = h("div.pull", icon("refresh"));
    const viewport = h("div.feed-viewport", pull, track);
    const tabs = h("div.feed-tabs", { role: "tablist" },
        h("a", { href: "/following", role: "tab", "aria-selected": String(kind === "following") }, "Following"),
        h("a", { href: "/", role: "tab", "aria-selected": String(kind === "for_you") }, "For you"));
    const status = h("div.feed-status");
    const el = h("section.screen.feed", viewport,
        h("div.feed-top", tabs, h("a.icon-btn.feed-search", { href: "/search", "aria-label": "Search people" }, icon("search"))), status);

    let stream = null;
    let cards = [];
    let current = -1;
    let exhausted = false;
    let endToldAt = 0;
    let swiper = null;

    function skeleton() {
        clear(status, h("div.feed-skeleton", { "aria-busy": "true", "aria-label": "Loading the feed" },
            h("div.skeleton", { style: { position: "absolute", inset: "0", borderRadius: "0" } }),
            h("div.feed-skel-rail", [0, 1, 2, 3].map(() => h("div.skeleton.circle", { style: { width: "44px", height: "44px" } }))),
            h("div.feed-skel-meta", h("div.skeleton.line", { style: { width: "40%", height: "14px" } }), h("div.skeleton.line", { style: { width: "75%" } }))));
    }

    function showEmpty() {
        if (cards.length) return;
        clear(status, kind === "following"
            ? empty({ iconName: "users", title: "Nothing from people you follow", text: "Follow creators from For you and their new videos land here.", action: h("a.btn.small.primary", { href: "/" }, "Explore For you") })
            : empty({ iconName: "film", title: "Nothing new for you", text: "You've seen every video here for now: new ones land here as they're posted. Or make one from a sentence.", action: h("a.btn.small.primary", { href: "/create" }, icon("plus"), "Create") }));
    }

    function leave(i) {
        const card = cards[i];
        if (!card) return;
        const { watchMs, completed } = card.deactivate();
        const event = completed ? "complete" : watchMs < SKIP_MS ? "skip" : "view";
        stream.event(card.post.id, event, watchMs);
    }

    function enter(i) {
        if (current >= 0 && current !== i) leave(current);
        current = i;
        const card = cards[i];
        if (!card) return;
        card.activate();
        stream.event(card.post.id, "impression");
        stream.on(i);
        el.dataset.index = String(i);
        el.dataset.postId = card.post.id;
        // keep a few loaded around the one on screen, fetch the next ones ahead; only the
        // one on screen takes focus (Tab must not reach, and scroll to, the next card's buttons)
        cards.forEach((c, j) => {
            if (j >= i - KEEP && j <= i + AHEAD) c.load();
            else c.unload();
            c.el.parentElement.inert = j !== i;
        });
        for (let j = i + 1; j <= i + AHEAD + 1 && j < cards.length; j++) preload(cards[j].post.content_url);
    }

    function addItems(items) {
        const first = cards.length === 0;
        for (const item of items) {
            const card = PostCard(item, { stream, followingFeed: kind === "following" });
            const slide = h("div.feed-slide", { style: { top: `${cards.length * 100}%` }, inert: cards.length !== current }, card.el);
            cards.push(card);
            track.append(slide);
            if (cards.length - 1 <= current + AHEAD) card.load();
        }
        el.dataset.count = String(cards.length);
        if (first && cards.length) {
            clear(status);
            enter(0);
        }
    }

    async function open() {
        stream = new FeedStream(kind, {
            window: 3,
            onItems: addItems,
            onCounts: (posts) => cards.forEach((c) => posts[c.post.id] && c.setCounts(posts[c.post.id])),
            onExhausted: () => { exhausted = true; showEmpty(); },
            onError: () => refresh(),
        });
        try {
            await stream.open();
        } catch (err) {
            clear(status, empty({ iconName: "alert", title: "Couldn't load the feed", text: err.message, action: h("button.btn.small.ghost", { onclick: () => refresh() }, "Try again") }));
        }
    }

    let refreshing = null; // a refresh under way: another pull waits for it rather than starting over

    function refresh() {
        if (!refreshing) refreshing = reload().finally(() => { refreshing = null; });
        return refreshing;
    }

    async function reload() {
        if (current >= 0) leave(current);
        if (stream) stream.close({ forget: true });  // a refresh starts a new session
        cards.forEach((c) => c.destroy());
        cards = [];
        current = -1;
        exhausted = false;
        clear(track);
        // nothing is on screen until the new session's first item: say so (tests and assistive tools read these)
        delete el.dataset.postId;
        el.dataset.index = "0";
        el.dataset.count = "0";
        swiper.index = 0;
        swiper._place(false);
        skeleton();
        await open();
        if (!cards.length && !exhausted) return;
        toast("Feed refreshed", { iconName: "refresh", ms: 1400 });
    }

    swiper = new Swiper(viewport, track, {
        count: () => cards.length,
        onChange: (i) => enter(i),
        onRefresh: () => refresh(),
        onTap: (e) => { const c = cards[swiper.index]; if (c) c.onTap(e); },
        onEnd: () => {
            // the last video, and the server said nothing is left: say so (once a while), rather than bounce in silence
            if (!exhausted || !cards.length || Date.now() - endToldAt < 4000) return;
            endToldAt = Date.now();
            // the videos of this visit stay in the track: offer them again from the first
            const again = cards.length > 1 ? { label: "Watch again", onClick: () => swiper.go(0) } : undefined;
            toast("You're all caught up. New videos show up here as they're posted.", { iconName: "check", ms: again ? 5000 : 2600, action: again });
        },
    });

    skeleton();
    open();
    if (query && query.get("welcome")) {
        history.replaceState(history.state, "", location.pathname);  // once: a reload does not welcome again
        setTimeout(() => toast("Welcome to Fabula! Make your cameo to star in videos.", { iconName: "sparkle", ms: 4200 }), 400);
    }

    return {
        el,
        title: "Fabula",
        destroy() {
            if (current >= 0) leave(current);
            if (stream) stream.close();
            cards.forEach((c) => c.destroy());
            swiper.destroy();
        },
    };
}
