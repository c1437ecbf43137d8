// Settings: the profile (name and bio), privacy (a private account, blocked
// accounts), a birth date for an account that has none, the password, signing
// out everywhere, a copy of one's data, and deleting the account.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { get, patch, post as httpPost, del } from "../api.js";
import { session } from "../session.js";
import { socket } from "../socket.js";
import { navigate } from "../router.js";
import { busy, confirm, errorState, formError, sheet, skeletonRows, toast, section } from "../ui.js";

const NAME_MAX = 50;
const BIO_MAX = 500;
const PASSWORD_MIN = 8;

function field(label, input) {
    return h("label.field", h("span", label), input);
}

function linkRow(href, iconName, title, meta, data = {}) {
    return h("a.list-row", { href, dataset: data }, h("span.radio-icon", icon(iconName)),
        h("div.grow", h("div.title", title), meta ? h("div.meta", meta) : null), icon("back", "flip"));
}

function actionRow(iconName, title, meta, onclick, data = {}) {
    return h("button.list-row", { onclick, dataset: data }, h("span.radio-icon", icon(iconName)),
        h("div.grow", h("div.title", title), meta ? h("div.meta", meta) : null));
}

/** reason: signout, everywhere (signed out on every device) or deleted (the account is gone): the sign-in screen says which. */
function endSession(reason = "signout") {
    socket.disconnect();
    session.clear(reason);
}

export function SettingsScreen() {
    const body = h("div.screen-body", skeletonRows(6));
    const el = h("section.screen.scroll.settings",
        h("header.topbar", h("a.icon-btn", { href: "/me", "aria-label": "Back" }, icon("back")), h("h1", "Settings")), body);
    let me = null;

    async function load() {
        try {
            me = await get("/v1/me");
        } catch (err) {
            return clear(body, errorState(err, load));
        }
        session.update(me);
        render();
    }

    function profileForm() {
        const name = h("input.input", { name: "display_name", maxLength: NAME_MAX, value: me.display_name || "", placeholder: me.handle, autocomplete: "name" });
        const bio = h("textarea.textarea", { name: "bio", rows: 3, maxLength: BIO_MAX, placeholder: "A line about you" }, me.bio || "");
        const error = formError();
        const save = h("button.btn.primary.small", { type: "submit", dataset: { saveProfile: "" } }, "Save");
        const form = h("form.settings-form", {
            onsubmit: async (e) => {
                e.preventDefault();
                error.show("");
                if (/[\r\n]/.test(name.value)) return error.show("A name is one line.");
                busy(save, true);
                try {
                    me = await patch("/v1/me", { display_name: name.value.trim(), bio: bio.value.trim() });
                    session.update(me);
                    name.value = me.display_name || "";  // as saved (spaces alone clear the name)
                    bio.value = me.bio || "";
                    toast("Profile saved", { iconName: "check" });
                } catch (err) { error.show(err.message); }
                busy(save, false);
            },
        }, field("Name", name), field("Bio", bio), error, h("div.form-actions", save));
        return form;
    }

    function privacy() {
        const toggle = h("input", { type: "checkbox", checked: Boolean(me.private), "aria-label": "Private account", dataset: { private: "" } });
        const meta = h("span.meta");
        const say = () => { meta.textContent = toggle.checked ? "People ask to follow you, and you approve each one." : "Anyone can follow you. Turn this on to approve each follower."; };
        say();
        toggle.onchange = async () => {
            const want = toggle.checked;
            if (!want && !(await confirm("Make your account public?", { action: "Go public", danger: false, detail: "Everyone who asked to follow you becomes a follower, and anyone can follow you from now on." }))) {
                toggle.checked = true;
                return;
            }
            toggle.disabled = true;
            try {
                me = await patch("/v1/me", { private: want });
                session.update(me);
                toast(want ? "Your account is private" : "Your account is public", { iconName: want ? "lock" : "globe" });
            } catch (err) {
                toggle.checked = !want;
                toast(err.message, { iconName: "alert" });
            }
            toggle.disabled = false;
            say();
        };
        return [
            h("label.toggle-row", h("span.grow", h("strong", "Private account"), meta), h("span.switch", toggle, h("span"))),
            linkRow("/settings/blocked", "block", "Blocked accounts", "Whom you block, and lifting a block", { blockedLink: "" }),
        ];
    }

    function birthDate() {
        if (me.birth_date) return null;
        const input = h("input.input", { type: "date", name: "birth_date", max: new Date().toISOString().slice(0, 10), min: "1900-01-01" });
        const error = formError();
        const save = h("button.btn.small.primary", { type: "submit" }, "Save");
        return section("Birth date",
            h("p.hint", "Your account has no birth date. Add it once: it cannot be changed afterwards, and nobody else sees it."),
            h("form.settings-form", {
                onsubmit: async (e) => {
                    e.preventDefault();
                    error.show("");
                    if (!input.value) return error.show("Choose the date you were born.");
                    const day = new Date(`${input.value}T00:00:00`).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
                    if (!(await confirm(`Born on ${day}?`, { action: "Save", danger: false, detail: "You can't change it later." }))) return;
                    busy(save, true);
                    try {
                        me = await patch("/v1/me", { birth_date: input.value });
                        session.update(me);
                        toast("Birth date saved", { iconName: "check" });
                        render();
                    } catch (err) {
                        busy(save, false);
                        error.show(err.code === "too_young" ? "That date makes you younger than 13: Fabula is for people 13 and over." : err.message);
                    }
                },
            }, field("Born on", input), error, h("div.form-actions", save)));
    }

    function passwordForm() {
        const current = h("input.input", { type: "password", name: "current_password", autocomplete: "current-password", maxLength: 256 });
        const next = h("input.input", { type: "password", name: "new_password", autocomplete: "new-password", maxLength: 256 });
        const error = formError();
        const save = h("button.btn.small.primary", { type: "submit", dataset: { changePassword: "" } }, "Change password");
        return h("form.settings-form", {
            onsubmit: async (e) => {
                e.preventDefault();
                error.show("");
                if (!current.value) return error.show("Enter your current password.");
                if (next.value.length < PASSWORD_MIN) return error.show(`Use a new password of at least ${PASSWORD_MIN} characters.`);
                busy(save, true);
                try {
                    const done = await httpPost("/v1/auth/password", { current_password: current.value, new_password: next.value });
                    current.value = next.value = "";
                    toast(done.revoked ? `Password changed. Signed out on ${done.revoked} other ${done.revoked === 1 ? "device" : "devices"}.` : "Password changed", { iconName: "lock", ms: 4000 });
                } catch (err) {
                    error.show(err.code === "wrong_password" ? "Your current password is not right." : err.message);
                }
                busy(save, false);
            },
        }, field("Current password", current), field("New password", next), error, h("div.form-actions", save));
    }

    async function exportData(button) {
        busy(button, true, "Preparing your data…");
        try {
            const zip = await get("/v1/me/export", { blob: true });
            const url = URL.createObjectURL(zip);
            const a = h("a", { href: url, download: `fabula-${me.handle}.zip`, hidden: true });
            document.body.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(url), 60_000);
            toast("Your data is downloading", { iconName: "download" });
        } catch (err) {
            toast(err.message, { iconName: "alert", ms: 4000 });
        }
        busy(button, false);
    }

    // The socket goes first: the server closes it when the token ends, and that close,
    // read before the answer, would be taken for a session that ended on its own.
    async function signOut() {
        socket.disconnect();
        try { await httpPost("/v1/auth/logout"); } catch { /* signing out here anyway */ }
        endSession();
    }

    async function signOutEverywhere() {
        if (!(await confirm("Sign out everywhere?", { action: "Sign out", detail: "Every device signed in to your account, this one included, is signed out." }))) return;
        socket.disconnect();
        try {
            await httpPost("/v1/auth/logout-all");
            endSession("everywhere");
        } catch (err) {
            socket.connect();
            toast(err.message, { iconName: "alert" });
        }
    }

    function deleteAccount() {
        const password = h("input.input", { type: "password", name: "password", autocomplete: "current-password", "aria-label": "Password" });
        const error = h("p.form-error", { hidden: true, role: "alert" });
        const go = h("button.btn.danger", { dataset: { confirm: "" } }, "Delete account");
        const s = sheet({
            title: "Delete your account?",
            body: h("div", { style: { display: "flex", flexDirection: "column", gap: "12px" } },
                h("p.sub", { style: { color: "var(--text-2)" } }, "Everything of yours goes: videos, posts, comments, likes, follows and your cameo. This cannot be undone. Enter your password to confirm."),
                password, error),
            foot: [h("button.btn.ghost", { onclick: () => s.close() }, "Cancel"), go],
        });
        s.el.querySelectorAll(".sheet-foot .btn").forEach((b) => (b.style.flex = "1"));
        go.onclick = async () => {
            if (!password.value) { error.textContent = "Enter your password."; error.hidden = false; return; }
            busy(go, true);
            socket.disconnect();
            try {
                await del("/v1/me", { json: { password: password.value } });
                s.close();
                endSession("deleted");
            } catch (err) {
                socket.connect();
                busy(go, false);
                error.textContent = err.status === 403 ? "That password is not right." : err.message;
                error.hidden = false;
            }
        };
        setTimeout(() => password.focus(), 300);
    }

    function render() {
        const exportBtn = actionRow("download", "Download your data", "Your posts, videos, comments, follows and cameo, as a zip", () => exportData(exportBtn), { export: "" });
        clear(body,
            section("Profile", profileForm()),
            section("Privacy", privacy()),
            birthDate(),
            section("Cameo and videos",
                linkRow("/cameo", "face", "Cameo settings", "Who can use your cameo, requests, appearances"),
                linkRow("/verify", "shield", "Check a video", "Was it made on Fabula? Its signature and watermark tell")),
            section("Password", passwordForm()),
            section("Your data", exportBtn),
            section("Account",
                actionRow("logout", "Sign out", null, signOut, { signOut: "" }),
                actionRow("users", "Sign out everywhere", "Every device, this one included", signOutEverywhere, { signOutEverywhere: "" }),
                actionRow("trash", "Delete account", "Your videos, posts, comments and cameo, for good", deleteAccount, { deleteAccount: "" })));
    }

    load();
    return { el, title: "Settings · Fabula" };
}
