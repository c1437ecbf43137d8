// A person in a list: avatar, name and handle, linking to their profile,
// with an optional action at the end (a button beside the link, not in it).
import { h } from "./dom.js";
import { icon } from "./icons.js";
import { avatar } from "./ui.js";

function who(u) {
    return [avatar(u), h("div.grow", h("div.title", u.display_name || u.handle), h("div.meta", `@${u.handle}`))];
}

/** A row that opens the person's profile; `action` (a node) sits beside the link. */
export function personRow(u, action = null) {
    const link = h("a.person-link", { href: `/u/${encodeURIComponent(u.handle)}` }, who(u), action ? null : icon("back", "flip"));
    return h("div.list-row", { dataset: { handle: u.handle } }, link, action);
}

/** A row for someone whose profile cannot be opened (blocked): no link. */
export function personLabel(u, action = null) {
    return h("div.list-row", { dataset: { handle: u.handle } }, who(u), action);
}
