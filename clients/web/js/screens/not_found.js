// A path the app does not have (the server answered it 404 with the app).
import { h } from "../dom.js";
import { empty } from "../ui.js";
import { session } from "../session.js";

export function NotFoundScreen() {
    const home = session.signedIn ? h("a.btn.small.primary", { href: "/" }, "Go to your feed") : h("a.btn.small.primary", { href: "/signin" }, "Sign in");
    const el = h("section.screen.not-found", h("div.screen-body.centered",
        empty({ iconName: "alert", title: "This page doesn't exist", text: "The link may be mistyped, or what it pointed to is gone.", action: home })));
    return { el, title: "Not found · Fabula" };
}
