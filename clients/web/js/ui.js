// Shared pieces of interface: toasts, bottom sheets, confirmations,
// skeletons, empty states, avatars, copying a link.
import { h, clear } from "./dom.js";
import { icon } from "./icons.js";

let host = null;
export function mountOverlays(app) {
    host = h("div.toast-host", { role: "status", "aria-live": "polite" });
    app.append(host);
}

/** A passing message; `action` ({label, onClick}) adds a button that acts and dismisses it. */
export function toast(text, { iconName, author, ms = 2600, action } = {}) {
    if (!host) return;
    const leave = () => { node.classList.add("leaving"); setTimeout(() => node.remove(), 300); };
    const button = action ? h("button.toast-action", { type: "button", onclick: () => { leave(); action.onClick(); } }, action.label) : null;
    const node = h("div.toast", author ? avatar(author, "sm") : iconName ? icon(iconName) : null, h("span", text), button);
    host.append(node);
    setTimeout(leave, ms);
    return node;
}

const openSheets = new Set();

/** Close every open sheet (the app moves to another screen: a sheet belongs to the one it was opened on). */
export function closeSheets() {
    [...openSheets].forEach((close) => close());
}

/** A bottom sheet over the app; returns {close, body, el}. */
export function sheet({ title, body, foot, onClose, label }) {
    const app = document.getElementById("app");
    const bodyEl = h("div.sheet-body", body);
    const panel = h("div.sheet", { role: "dialog", "aria-modal": "true", "aria-label": label || title },
        h("div.sheet-head", h("h2", title), h("button.icon-btn", { "aria-label": "Close", onclick: () => close() }, icon("close"))),
        bodyEl,
        foot ? h("div.sheet-foot", foot) : null);
    const scrim = h("div.sheet-scrim", { onclick: (e) => e.target === scrim && close() }, panel);
    const opener = document.activeElement;  // focus goes back there when the sheet closes
    let open = true;
    function close() {
        if (!open) return;
        open = false;
        openSheets.delete(close);
        if (opener && opener.isConnected && panel.contains(document.activeElement)) opener.focus();
        panel.classList.add("closing");
        scrim.classList.add("closing");
        setTimeout(() => scrim.remove(), 240);
        document.removeEventListener("keydown", onKey);
        onClose && onClose();
    }
    // the keyboard stays in the sheet while it is open: Escape closes it, Tab goes round its controls
    const onKey = (e) => {
        if (e.key === "Escape") return close();
        if (e.key !== "Tab") return;
        const stops = [...panel.querySelectorAll("button, a[href], input, textarea, select, [tabindex]:not([tabindex='-1'])")]
            .filter((n) => !n.disabled && n.offsetParent !== null);
        if (!stops.length) return;
        const first = stops[0], last = stops[stops.length - 1];
        if (!panel.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
        else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    };
    document.addEventListener("keydown", onKey);
    app.append(scrim);
    openSheets.add(close);
    panel.tabIndex = -1;
    if (!panel.contains(document.activeElement)) panel.focus({ preventScroll: true });
    return { close, body: bodyEl, el: panel };
}

export function confirm(question, { action = "Delete", danger = true, detail } = {}) {
    return new Promise((resolve) => {
        let answered = false;
        const done = (value) => { answered = true; resolve(value); s.close(); };
        const s = sheet({
            title: question,
            body: detail ? h("p.sub", { style: { color: "var(--text-2)", textAlign: "center" } }, detail) : null,
            foot: [
                h("button.btn.ghost", { onclick: () => done(false) }, "Cancel"),
                h(`button.btn.${danger ? "danger" : "primary"}`, { onclick: () => done(true), dataset: { confirm: "" } }, action),
            ],
            onClose: () => !answered && resolve(false),
        });
        s.el.querySelectorAll(".sheet-foot .btn").forEach((b) => (b.style.flex = "1"));
    });
}

/** A titled card of settings (the cameo's, the account's). */
export function section(title, ...children) {
    return h("section.settings-section", h("h2.section-title", title), h("div.card", children));
}

export function skeletonRows(n = 4) {
    return h("div.list", { "aria-busy": "true", "aria-label": "Loading" }, Array.from({ length: n }, () =>
        h("div.skel-row", h("div.skeleton.circle", { style: { width: "40px", height: "40px" } }),
            h("div.grow", h("div.skeleton.line", { style: { width: "55%" } }), h("div.skeleton.line", { style: { width: "35%" } })))));
}

export function skeletonGrid(n = 9) {
    return h("div.grid", { "aria-busy": "true" }, Array.from({ length: n }, () => h("div.tile.skeleton")));
}

export function empty({ iconName = "sparkle", title, text, action }) {
    return h("div.empty", h("div.art", icon(iconName)), h("h3", title), text ? h("p", text) : null, action || null);
}

export function errorState(err, retry) {
    return empty({ iconName: "alert", title: "Couldn't load this", text: err.message, action: retry ? h("button.btn.small.ghost", { onclick: retry }, "Try again") : null });
}

const HUES = [340, 265, 200, 160, 25, 290, 180, 10];
export function avatar(author, size = "") {
    const handle = (author && author.handle) || "?";
    let sum = 0;
    for (const c of handle) sum = (sum * 31 + c.charCodeAt(0)) >>> 0;
    const hue = HUES[sum % HUES.length];
    const node = h(`span.avatar${size ? "." + size : ""}`, {
        style: { background: `linear-gradient(135deg, hsl(${hue} 80% 58%), hsl(${(hue + 50) % 360} 70% 42%))` },
        "aria-hidden": "true",
    }, ((author && (author.display_name || author.handle)) || "?").trim().charAt(0));
    return node;
}

export async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        const area = h("textarea", { style: { position: "fixed", opacity: "0" } }, text);
        document.body.append(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        return ok;
    }
}

/** "Show more" under a paged list: shows itself busy, then calls more(button) to fetch the next page
 * (which removes the button, or calls busy(button, false) when it fails). */
export function moreButton(more) {
    const button = h("button.btn.small.ghost.more-btn", { dataset: { more: "" } }, "Show more");
    button.onclick = () => { busy(button, true); more(button); };
    return button;
}

export function busy(button, on, label) {
    if (on) {
        button.dataset.label = button.textContent;
        button.disabled = true;
        clear(button, h("span.spinner"), label ? h("span", label) : null);
    } else {
        button.disabled = false;
        button.textContent = button.dataset.label || button.textContent;
    }
}

export function formError() {
    const text = h("span");
    const node = h("div.form-error", { role: "alert", hidden: true }, icon("alert"), text);
    node.show = (message) => { text.textContent = message; node.hidden = !message; };
    return node;
}
