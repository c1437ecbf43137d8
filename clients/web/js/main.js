// Fabula's web app: the shell (screen area, tab bar, overlays), the routes,
// and what runs for the whole signed-in session (the socket, notifications).
import { h, clear } from "./dom.js";
import { icon } from "./icons.js";
import { session } from "./session.js";
import { socket } from "./socket.js";
import { route, match, navigate, start, currentScreen, setCurrent } from "./router.js";
import { closeSheets, mountOverlays, toast } from "./ui.js";
import { notifications } from "./notifications.js";
import { clearMedia } from "./media.js";
import { registerRtcPreviews } from "./rtc_preview.js";
import { AuthScreen, nextPath } from "./screens/auth.js";
import { FeedScreen } from "./screens/feed.js";
import { CreateScreen } from "./screens/create.js";
import { InboxScreen } from "./screens/inbox.js";
import { ProfileScreen } from "./screens/profile.js";
import { CameoSettingsScreen } from "./screens/cameo_settings.js";
import { OnboardingScreen } from "./screens/onboarding.js";
import { PostScreen } from "./screens/post.js";
import { SearchScreen } from "./screens/search.js";
import { SettingsScreen } from "./screens/settings.js";
import { BlockedScreen } from "./screens/blocked.js";
import { NotFoundScreen } from "./screens/not_found.js";

route("/", (p, q) => FeedScreen("for_you", q), { tab: "home" });
route("/following", (p, q) => FeedScreen("following", q), { tab: "home" });
route("/signin", (p, q) => AuthScreen(q), { public: true, bare: true });
route("/create", (p, q) => CreateScreen(q), { tab: "create" });
route("/inbox", () => InboxScreen(), { tab: "inbox" });
route("/me", () => ProfileScreen(session.user.handle, true), { tab: "me" });
route("/u/:handle", (p) => ProfileScreen(p.handle, session.isMe(p.handle)), { tab: "me" });
route("/cameo", () => CameoSettingsScreen(), { tab: "me" });
route("/cameo/settings", () => CameoSettingsScreen(), { tab: "me" });
route("/cameo/new", () => OnboardingScreen(), { tab: "me", bare: true });
route("/p/:id", (p, q) => PostScreen(p.id, q), { public: true });
route("/search", (p, q) => SearchScreen(q));
route("/settings", () => SettingsScreen(), { tab: "me" });
route("/settings/blocked", () => BlockedScreen(), { tab: "me" });
const NOT_FOUND = { load: () => NotFoundScreen(), public: true };  // any other path

const app = document.getElementById("app");
const view = h("main.view", { style: { flex: "1", minHeight: "0", display: "flex", flexDirection: "column" } });
const badge = h("span.badge", { hidden: true, "aria-label": "unread notifications" });
const tabs = {
    home: h("a", { href: "/", "aria-label": "Home" }, icon("home"), h("span", "Home")),
    create: h("a.create-tab", { href: "/create", "aria-label": "Create" }, h("span.plus", icon("plus"))),
    inbox: h("a", { href: "/inbox", "aria-label": "Inbox" }, icon("bell"), h("span", "Inbox"), badge),
    me: h("a", { href: "/me", "aria-label": "Me" }, icon("user"), h("span", "Me")),
};
const tabbar = h("nav.tabbar", { "aria-label": "Main" }, Object.values(tabs));
clear(app, view, tabbar);
mountOverlays(app);

notifications.onCount((n) => {
    badge.hidden = n <= 0;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.setAttribute("aria-label", `${n > 99 ? "more than 99" : n} unread notification${n === 1 ? "" : "s"}`);
    document.title = document.title.replace(/^\(\d+\+?\) /, "");
    if (n > 0) document.title = `(${n > 99 ? "99+" : n}) ${document.title}`;
});

// live previews: WebRTC first when it connects in time, else the socket's JPEG frames
registerRtcPreviews(socket);

function startSession() {
    socket.connect();
    notifications.start();
}

session.on((reason) => {
    if (reason === "signin") return startSession();
    if (reason === "signin-elsewhere") {  // another tab signed in: this one follows
        startSession();
        if (location.pathname === "/signin") navigate(nextPath(new URLSearchParams(location.search)), { replace: true });
        else navigate(location.pathname + location.search, { replace: true });
        return;
    }
    socket.disconnect();
    notifications.stop();
    clearMedia();
    if (reason === "switched") return;  // signed in as someone else in another tab: "signin-elsewhere" follows
    if (location.pathname === "/signin") return;
    // the sign-in screen says why (notice), in words of its own (screens/auth.js)
    if (reason === "expired") {  // not asked for: come back here after signing in again
        navigate(`/signin?next=${encodeURIComponent(location.pathname)}&notice=ended`, { replace: true });
    } else if (reason === "deleted") {
        navigate("/signin?mode=signup&notice=deleted", { replace: true });
    } else {  // signed out (here or in another tab): the next person starts afresh
        navigate(`/signin?mode=signin${reason === "everywhere" ? "&notice=everywhere" : ""}`, { replace: true });
    }
});

async function show(url) {
    const found = match(url.pathname) || { route: NOT_FOUND, params: {} };
    const { route: r, params } = found;
    if (!r.public && !session.signedIn) {
        return navigate(`/signin?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
    }
    const old = currentScreen();
    closeSheets();  // a sheet (comments, a menu) belongs to the screen it was opened on
    if (old && old.destroy) old.destroy();
    const screen = r.load(params, url.searchParams);
    setCurrent(screen);
    clear(view, screen.el);
    const bare = r.bare || (!session.signedIn && r.public);
    tabbar.hidden = bare;
    tabbar.style.display = bare ? "none" : "";
    for (const [name, a] of Object.entries(tabs)) {
        if (name === r.tab && !(name === "me" && url.pathname.startsWith("/u/") && !session.isMe(params.handle))) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
    }
    if (screen.title) document.title = screen.title;
}

if (session.signedIn) startSession();
start(show);
