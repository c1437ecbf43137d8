// A post's comments in a bottom sheet: the list (newest first), replies
// under each, and a box to comment or reply.
import { h, ago, clear, plural } from "../dom.js";
import { icon } from "../icons.js";
import { get, post as httpPost, del } from "../api.js";
import { sheet, avatar, skeletonRows, empty, errorState, toast, confirm } from "../ui.js";
import { session } from "../session.js";
import { openReport } from "../report.js";

const REFRESH_MS = 10_000;

function commentRow(c, { onReply, nested, onDelete }) {
    const body = c.deleted
        ? h("div.grow", h("p.meta", "Comment deleted"))
        : h("div.grow",
            h("div.comment-head", h("a", { href: `/u/${encodeURIComponent(c.author.handle)}` }, h("strong", c.author.handle)), h("span.meta", ago(c.created_at))),
            h("p.comment-text", c.text),
            h("div.comment-actions",
                nested ? null : h("button.comment-reply", { onclick: () => onReply(c) }, "Reply"),
                session.isMe(c.author.id) ? null : h("button.comment-reply", { onclick: () => openReport("comment", c.id, "this comment") }, "Report"),
                onDelete && (session.isMe(c.author.id) || onDelete.mine) ? h("button.comment-reply", { dataset: { deleteComment: "" }, onclick: () => onDelete(c, row) }, "Delete") : null));
    const row = h(`div.comment${nested ? ".nested" : ""}`, { dataset: { commentId: c.id } }, c.deleted ? h("span.avatar.sm") : avatar(c.author, "sm"), body);
    if (!nested && c.reply_count > 0) {
        const replies = h("div.replies");
        const more = h("button.comment-more", {
            onclick: async () => {
                more.disabled = true;
                try {
                    const page = await get(`/v1/comments/${c.id}/replies?limit=50`);
                    clear(replies, page.data.map((r) => commentRow(r, { nested: true, onDelete })));
                    more.remove();
                } catch (err) { more.disabled = false; toast(err.message, { iconName: "alert" }); }
            },
        }, `View ${plural(c.reply_count, "reply", "replies")}`);
        return h("div", row, h("div.reply-zone", more, replies));
    }
    return row;
}

/** The sheet; its refresh() brings in comments made since it opened (the card
 * calls it when the post's live comment count changes). */
export function openComments(post, { onCount, onClose } = {}) {
    let replyTo = null;
    const list = h("div.comments", skeletonRows(3));
    const input = h("input.input", { placeholder: "Add a comment…", maxLength: 1000, "aria-label": "Comment" });
    const replying = h("div.replying", { hidden: true });
    const sendBtn = h("button.icon-btn.send", { type: "submit", "aria-label": "Send" }, icon("send"));
    const form = h("form.comment-form", { onsubmit: submit }, input, sendBtn);
    const s = sheet({ title: plural(post.counts.comments, "comment"), body: list, foot: h("div", { style: { flex: "1", display: "flex", flexDirection: "column", gap: "8px" } }, replying, form),
        onClose: () => { clearInterval(poll); onClose && onClose(); } });
    // besides the live count's changes, read the newest page again now and then while open
    // (a comment deleted and another made between two reads leave the count as it was)
    const poll = setInterval(() => document.visibilityState === "visible" && refresh(), REFRESH_MS);

    function setCount(n) {
        post.counts.comments = n;
        s.el.querySelector(".sheet-head h2").textContent = plural(n, "comment");
        onCount && onCount(n);
    }

    // a comment of mine, or any on my post (the server allows both)
    async function onDelete(c, row) {
        if (!(await confirm("Delete this comment?"))) return;
        const before = post.counts.comments;
        try {
            await del(`/v1/comments/${c.id}`);
            row.replaceWith(commentRow({ ...c, deleted: true, reply_count: 0 }, { nested: row.classList.contains("nested") }));
            // the feed's live count may have taken it off already: once
            setCount(Math.max(0, Math.min(post.counts.comments, before - 1)));
        } catch (err) {
            toast(err.message, { iconName: "alert" });
        }
    }
    onDelete.mine = session.isMe(post.author.id);

    function setReply(c) {
        replyTo = c;
        replying.hidden = !c;
        if (c) clear(replying, h("span", `Replying to @${c.author.handle}`), h("button.link", { type: "button", onclick: () => setReply(null) }, "Cancel"));
        input.focus();
    }

    let loaded = false, refreshing = false;
    async function load() {
        try {
            const page = await get(`/v1/posts/${post.id}/comments?limit=50`);
            loaded = true;
            if (!page.data.length && post.counts.comments > 0) {
                // the count is everyone's; the ones shown leave out people across a block
                s.el.querySelector(".sheet-head h2").textContent = "Comments";
                clear(list, empty({ iconName: "comment", title: "None you can see", text: "The comments here are from people you block or who block you. Say something." }));
            } else if (!page.data.length) clear(list, empty({ iconName: "comment", title: "No comments yet", text: "Start the conversation." }));
            else clear(list, page.data.map((c) => commentRow(c, { onReply: setReply, onDelete })));
        } catch (err) {
            clear(list, errorState(err, load));
        }
    }

    // Comments others made while the sheet is open: the newest page again, and
    // those not shown yet go on top (mine are shown already when sent).
    async function refresh() {
        if (!loaded || refreshing) return;
        refreshing = true;
        try {
            const page = await get(`/v1/posts/${post.id}/comments?limit=50`);
            const fresh = page.data.filter((c) => !c.deleted && !list.querySelector(`[data-comment-id="${c.id}"]`));
            if (!page.next_cursor) {  // the whole list: comments shown that it no longer holds were deleted
                const live = new Set(page.data.map((c) => c.id));
                for (const child of [...list.children]) {
                    const row = child.matches("[data-comment-id]") ? child : child.querySelector(":scope > [data-comment-id]");
                    if (row && !live.has(row.dataset.commentId)) child.remove();
                }
            }
            if (fresh.length && list.querySelector(".empty")) clear(list);
            for (const c of fresh.reverse()) list.prepend(commentRow(c, { onReply: setReply, onDelete }));
            if (!list.children.length) clear(list, empty({ iconName: "comment", title: "No comments yet", text: "Start the conversation." }));
            s.el.querySelector(".sheet-head h2").textContent = plural(post.counts.comments, "comment");
        } catch { /* offline, or the post went: the list stays as it is */ }
        finally { refreshing = false; }
    }

    async function submit(e) {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        sendBtn.disabled = true;
        const before = post.counts.comments;
        try {
            const made = await httpPost(`/v1/posts/${post.id}/comments`, replyTo ? { text, reply_to: replyTo.id } : { text });
            input.value = "";
            if (!replyTo) {
                if (list.querySelector(".empty")) clear(list);
                list.prepend(commentRow(made, { onReply: setReply, onDelete }));
            } else {
                const zone = list.querySelector(`[data-comment-id="${replyTo.parent_id || replyTo.id}"]`);
                if (zone) zone.after(commentRow(made, { nested: true, onDelete }));
            }
            // the feed's live count may have brought this comment in already: count it once
            setCount(Math.max(post.counts.comments, before + 1));
            setReply(null);
        } catch (err) {
            toast(err.message, { iconName: "alert" });
            if (err.code === "comment_not_found" && replyTo) {  // the comment answered went meanwhile: show it gone
                const row = list.querySelector(`[data-comment-id="${replyTo.id}"]`);
                if (row) row.replaceWith(commentRow({ ...replyTo, deleted: true, reply_count: 0 }, { nested: row.classList.contains("nested") }));
                setReply(null);
            }
        } finally {
            sendBtn.disabled = false;
        }
    }

    load();
    setTimeout(() => input.focus(), 300);
    return { ...s, refresh };
}
