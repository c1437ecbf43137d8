// Small DOM helpers: h() builds elements, plus formatting of counts and times.

/** h("button.btn.primary", {onclick, type: "submit"}, "Post", child, [more]) */
export function h(tag, props, ...children) {
    const [name, ...classes] = tag.split(".");
    const node = document.createElement(name || "div");
    if (classes.length) node.className = classes.join(" ");
    if (props && (typeof props !== "object" || props instanceof Node || Array.isArray(props))) {
        children.unshift(props);
        props = null;
    }
    for (const [key, value] of Object.entries(props || {})) {
        if (value === undefined || value === null || value === false) continue;
        if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
        else if (key === "class") node.className += (node.className ? " " : "") + value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
        else if (key in node && typeof value !== "string") node[key] = value;
        else node.setAttribute(key, value === true ? "" : value);
    }
    append(node, children);
    return node;
}

export function append(node, children) {
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) continue;
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
}

export function clear(node, ...children) {
    node.replaceChildren();
    return append(node, children);
}

/** An SVG element from markup (the icons). */
export function svg(markup) {
    const t = document.createElement("template");
    t.innerHTML = markup.trim();
    return t.content.firstElementChild;
}

export function compact(n) {
    n = Number(n) || 0;
    if (n < 1000) return String(n);
    if (n < 1e6) return (n / 1000).toFixed(n < 10000 ? 1 : 0).replace(/\.0$/, "") + "K";
    return (n / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
}

export function ago(unix) {
    const s = Math.max(0, Date.now() / 1000 - unix);
    if (s < 60) return "now";
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h`;
    if (s < 604800) return `${Math.floor(s / 86400)}d`;
    return new Date(unix * 1000).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function plural(n, one, many = one + "s") {
    return `${compact(n)} ${n === 1 ? one : many}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
