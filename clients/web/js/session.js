// Who is signed in: the token and the user, kept for this browser session
// (sessionStorage: closing the tab signs out).
const KEY = "fabula.session";
const listeners = new Set();

function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

export const session = {
    state: load(),
    get token() { return this.state && this.state.token; },
    get user() { return this.state && this.state.user; },
    get signedIn() { return Boolean(this.token); },
    isMe(handleOrId) {
        const u = this.user;
        return Boolean(u && handleOrId && (u.id === handleOrId || u.handle.toLowerCase() === String(handleOrId).toLowerCase()));
    },
    set(token, user) {
        this.state = { token, user };
        sessionStorage.setItem(KEY, JSON.stringify(this.state));
        listeners.forEach((fn) => fn("signin"));
    },
    update(user) {
        if (!this.state) return;
        this.state.user = user;
        sessionStorage.setItem(KEY, JSON.stringify(this.state));
    },
    clear(reason = "signout") {
        this.state = null;
        sessionStorage.removeItem(KEY);
        listeners.forEach((fn) => fn(reason));
    },
    expired() { if (this.state) this.clear("expired"); },
    on(fn) { listeners.add(fn); return () => listeners.delete(fn); },
};
