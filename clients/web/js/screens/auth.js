// Sign up and sign in: one form, two modes; the token is kept for the session.
import { h } from "../dom.js";
import { icon } from "../icons.js";
import { post } from "../api.js";
import { session } from "../session.js";
import { navigate } from "../router.js";
import { busy, formError } from "../ui.js";

// where to go once signed in: a path of this app, never the sign-in page itself
export function nextPath(query) {
    const next = query.get("next") || "/";
    return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/signin") ? next : "/";
}

// why the app is back here, by the `notice` it was sent with (only these: the URL cannot put words on the screen)
const NOTICES = {
    ended: "You were signed out: your session ended, or was ended from another device (a password change, or Sign out everywhere). Sign in again to go on.",
    everywhere: "You're signed out on every device.",
    deleted: "Your account is deleted, with everything in it.",
};

export function AuthScreen(query) {
    // sent here by an action or a signed-out session (a `next`): signing in is the likelier wish
    const asked = query.get("mode");
    // the app's front door ("/" signed out) is for newcomers too: a first visit opens on "Create account"
    const sentBack = query.get("next") && query.get("next") !== "/";
    let mode = asked === "signin" || asked === "signup" ? asked : sentBack ? "signin" : "signup";
    const next = nextPath(query);
    const error = formError();
    const handle = h("input.input", { name: "handle", autocomplete: "username", autocapitalize: "none", spellcheck: false, required: true, minLength: 3, maxLength: 30, placeholder: "yourname" });
    const password = h("input.input", { name: "password", type: "password", required: true, placeholder: "A few unrelated words" });
    const birthDate = h("input.input", { name: "birth_date", type: "date", autocomplete: "bday", required: true, max: new Date().toISOString().slice(0, 10) });
    const birthField = h("label.field", h("span", "Birth date"), birthDate);
    const submit = h("button.btn.primary.block", { type: "submit" });
    const switcher = h("div.segmented", { role: "tablist" });
    const hint = h("p.hint");

    function setMode(value) {
        mode = value;
        switcher.replaceChildren(
            h("button", { type: "button", role: "tab", "aria-selected": String(mode === "signup"), onclick: () => setMode("signup") }, "Create account"),
            h("button", { type: "button", role: "tab", "aria-selected": String(mode === "signin"), onclick: () => setMode("signin") }, "Sign in"),
        );
        submit.textContent = mode === "signup" ? "Create account" : "Sign in";
        password.autocomplete = mode === "signup" ? "new-password" : "current-password";
        birthField.hidden = mode !== "signup";
        hint.textContent = mode === "signup" ? "Handles are 3 to 30 letters, digits or underscores. Passwords need at least 8 characters; a few unrelated words work best. You must be 13 or older; your birth date is shown to no one." : "";
        error.show("");
    }
    setMode(mode);

    async function onSubmit(e) {
        e.preventDefault();
        error.show("");
        if (mode === "signup" && !birthDate.value) return error.show("Enter your birth date.");
        busy(submit, true);
        try {
            const path = mode === "signup" ? "/v1/auth/signup" : "/v1/auth/login";
            const body = { handle: handle.value.trim().replace(/^@/, ""), password: password.value };  // "@ada" is how handles are shown
            if (mode === "signup") body.birth_date = birthDate.value;
            const out = await post(path, body, { auth: false });
            session.set(out.token, out.user);
            navigate(mode === "signup" && next === "/" ? "/?welcome=1" : next, { replace: true });
        } catch (err) {
            busy(submit, false);
            error.show(err.message);
        }
    }

    const el = h("section.screen.auth",
        h("div.auth-hero",
            h("div.auth-orbs", h("span"), h("span"), h("span")),
            h("div.brand", h("span.logo", icon("play")), h("span.wordmark", "fabula")),
            h("h1", "Make it. Star in it. Share it."),
            h("p", "Short AI videos from a sentence, with you and your friends in them."),
        ),
        h("form.auth-form", { onsubmit: onSubmit, novalidate: true },
            NOTICES[query.get("notice")] ? h("p.auth-notice", { role: "status", dataset: { notice: query.get("notice") } }, NOTICES[query.get("notice")]) : null,
            switcher,
            h("label.field", h("span", "Handle"), handle),
            h("label.field", h("span", "Password"), password),
            birthField,
            hint,
            error,
            submit,
        ),
    );
    setTimeout(() => handle.focus(), 50);
    return { el, title: "Fabula: sign in" };
}
