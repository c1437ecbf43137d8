// Settings › Blocked accounts: whom I block (GET /v1/me/blocks, newest first),
// each with Unblock. A blocked person's profile is hidden from me, so this is
// where a block is lifted.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { get, del } from "../api.js";
import { busy, empty, errorState, moreButton, skeletonRows, toast } from "../ui.js";
import { personLabel } from "../people.js";

const PAGE = 30;

export function BlockedScreen() {
    const body = h("div.screen-body", skeletonRows(3));
    const el = h("section.screen.scroll.settings",
        h("header.topbar", h("a.icon-btn", { href: "/settings", "aria-label": "Back" }, icon("back")), h("h1", "Blocked accounts")), body);
    const list = h("div.list.blocked-list");

    function row(u) {
        const button = h("button.btn.small.ghost", { dataset: { unblock: u.handle } }, "Unblock");
        button.onclick = async () => {
            busy(button, true);
            try {
                await del(`/v1/users/${encodeURIComponent(u.handle)}/block`);
                button.replaceWith(h("span.pill.ok", "Unblocked"));
                toast(`@${u.handle} is unblocked. Follows from before are not restored.`, { iconName: "check", ms: 3600 });
            } catch (err) {
                busy(button, false);
                toast(err.message, { iconName: "alert" });
            }
        };
        return personLabel(u, button);
    }

    async function load(cursor = null, more = null) {
        const params = new URLSearchParams({ limit: String(PAGE) });
        if (cursor) params.set("cursor", cursor);
        let page;
        try {
            page = await get(`/v1/me/blocks?${params}`);
        } catch (err) {
            if (more) { busy(more, false); return toast(err.message, { iconName: "alert" }); }
            return clear(body, errorState(err, () => load()));
        }
        if (more) more.remove();
        if (!cursor) {
            if (!page.data.length) {
                return clear(body, empty({ iconName: "block", title: "You block nobody", text: "Blocked people can't see your profile or posts, and you don't see theirs. Block someone from the … on their profile." }));
            }
            clear(body, h("p.hint", "They can't see your profile, posts or comments, and you don't see theirs."), list);
        }
        page.data.forEach((u) => list.append(row(u)));
        if (page.next_cursor) body.append(moreButton((next) => load(page.next_cursor, next)));
    }

    load();
    return { el, title: "Blocked accounts · Fabula" };
}
