// Finding people: handles that start with what is typed (GET /v1/users?q=),
// a page at a time. The server leaves out people across a block, and minors
// from adults who do not know them.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { get } from "../api.js";
import { navigate } from "../router.js";
import { empty, errorState, skeletonRows, busy, moreButton } from "../ui.js";
import { personRow } from "../people.js";

const HANDLE_START = /^[A-Za-z0-9_]{1,30}$/;
const PAGE = 20;
const WAIT_MS = 250; // typing pauses this long before a search is sent

export function SearchScreen(query) {
    const input = h("input.input.search-input", {
        type: "search", name: "q", placeholder: "Search people by handle", autocomplete: "off", autocapitalize: "none",
        spellcheck: false, maxLength: 31, "aria-label": "Search people by handle", enterkeyhint: "search",
    });
    const results = h("div.screen-body.search-results");
    const el = h("section.screen.scroll.search",
        h("header.topbar", h("button.icon-btn", { "aria-label": "Back", onclick: () => history.length > 1 ? history.back() : navigate("/") }, icon("back")),
            h("label.search-field", icon("search"), input)),
        results);
    let timer = 0;
    let inflight = null;

    function hint() {
        clear(results, empty({ iconName: "search", title: "Find people", text: "Type the start of a handle: letters, digits and underscores." }));
    }

    function typed() {
        return input.value.trim().replace(/^@/, "");
    }

    async function search(q, cursor = null, list = null, more = null) {
        if (inflight) inflight.abort();
        const controller = new AbortController();
        inflight = controller;
        if (!list) clear(results, skeletonRows(3));
        const params = new URLSearchParams({ q, limit: String(PAGE) });
        if (cursor) params.set("cursor", cursor);
        let page;
        try {
            page = await get(`/v1/users?${params}`, { signal: controller.signal });
        } catch (err) {
            if (err.name === "AbortError") return;
            if (more) { busy(more, false); more.replaceWith(h("p.form-error", { role: "alert" }, err.message)); return; }
            return clear(results, errorState(err, () => search(q)));
        }
        if (inflight !== controller) return;
        inflight = null;
        if (!list) {
            if (!page.data.length) return clear(results, empty({ iconName: "users", title: "No one found", text: `No handle we can show you starts with “${q}”.` }));
            list = h("div.list");
            clear(results, list);
        }
        if (more) more.remove();
        page.data.forEach((u) => list.append(personRow(u)));
        if (page.next_cursor) results.append(moreButton((next) => search(q, page.next_cursor, list, next)));
    }

    function changed() {
        clearTimeout(timer);
        const q = typed();
        history.replaceState({}, "", q ? `/search?q=${encodeURIComponent(q)}` : "/search");
        if (!q) { if (inflight) inflight.abort(); return hint(); }
        if (!HANDLE_START.test(q)) {
            if (inflight) inflight.abort();
            return clear(results, empty({ iconName: "alert", title: "Not a handle", text: "Handles have only letters, digits and underscores, 30 at most." }));
        }
        timer = setTimeout(() => search(q), WAIT_MS);
    }

    input.addEventListener("input", changed);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(timer); const q = typed(); if (HANDLE_START.test(q)) search(q); } });
    input.value = (query && query.get("q")) || "";
    if (input.value) changed(); else hint();
    setTimeout(() => input.focus(), 50);
    return { el, title: "Search · Fabula", destroy: () => { clearTimeout(timer); if (inflight) inflight.abort(); } };
}
