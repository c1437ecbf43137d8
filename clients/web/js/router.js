// Paths to screens, with the History API: links with data-link (or any
// same-origin <a href="/…">) move without reloading.
const routes = [];
let current = null;
let onChange = () => {};

export function route(pattern, load, opts = {}) {
    const keys = [];
    const re = new RegExp("^" + pattern.replace(/:(\w+)/g, (_, k) => (keys.push(k), "([^/]+)")) + "/?$");
    routes.push({ re, keys, load, ...opts });
}

export function match(path) {
    for (const r of routes) {
        const m = r.re.exec(path);
        if (m) return { route: r, params: Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])])) };
    }
    return null;
}

export function navigate(to, { replace = false } = {}) {
    const url = new URL(to, location.origin);
    if (url.pathname + url.search === location.pathname + location.search && !replace) return onChange(url);
    history[replace ? "replaceState" : "pushState"]({}, "", url.pathname + url.search + url.hash);
    onChange(url);
}

export function start(handler) {
    onChange = handler;
    addEventListener("popstate", () => onChange(new URL(location.href)));
    document.addEventListener("click", (e) => {
        const a = e.target.closest("a[href]");
        if (!a || a.target || a.hasAttribute("download") || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
        const url = new URL(a.href, location.href);
        if (url.origin !== location.origin || !match(url.pathname)) return; // other pages (/verify) load as pages
        e.preventDefault();
        navigate(url.pathname + url.search);
    });
    onChange(new URL(location.href));
}

export function currentScreen() { return current; }
export function setCurrent(screen) { current = screen; }
