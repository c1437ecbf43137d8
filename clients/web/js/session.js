// Who is signed in: the token and the user, kept in this browser
// (localStorage: it stays signed in until it signs out, the token expires or
// is revoked). Every tab shares it: signing in or out in one tab does it in
// the others (the storage event), so no tab goes on with a token that ended.
const KEY = "fabula.session";
const listeners = new Set();

function read(text) {
    try { return JSON.parse(text) || null; } catch { return null; }
}

function load() {
    try { return read(localStorage.getItem(KEY)); } catch { return null; }
}

function store(state) {
    try {
        if (state) localStorage.setItem(KEY, JSON.stringify(state));
        else localStorage.removeItem(KEY);
    } catch { /* storage off: this tab alone keeps the session, in memory */ }
}

const tell = (reason) => listeners.forEach((fn) => fn(reason));

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
        store(this.state);
        tell("signin");
    },
    update(user) {
        if (!this.state) return;
        this.state.user = user;
        store(this.state);
    },
    clear(reason = "signout") {
        if (!this.state) return;  // signed out already (by another tab, or a closed socket first)
        this.state = null;
        store(null);
        tell(reason);
    },
    expired() { if (this.state) this.clear("expired"); },
    on(fn) { listeners.add(fn); return () => listeners.delete(fn); },
};

// another tab signed in, out, or as someone else
addEventListener("storage", (e) => {
    if (e.key !== KEY && e.key !== null) return;
    const next = e.key === null ? null : read(e.newValue);
    const before = session.token;
    if (next && next.token === before) { session.state = next; return; } // the profile was refreshed there
    session.state = next;
    if (before) tell(next ? "switched" : "signout");
    if (next) tell("signin-elsewhere");
});
