// Reporting a post, comment, person or cameo to the moderators
// (POST /v1/{posts|comments|users|cameos}/{id}/report): a reason, a note.
import { h, clear } from "./dom.js";
import { icon } from "./icons.js";
import { post as httpPost } from "./api.js";
import { sheet, toast, busy } from "./ui.js";

const REASONS = [
    ["spam", "Spam or scam"],
    ["harassment", "Harassment or bullying"],
    ["hate", "Hate"],
    ["violence", "Violence or gore"],
    ["sexual", "Sexual content"],
    ["minors", "Involves a minor"],
    ["self_harm", "Self-harm"],
    ["likeness", "Uses someone's likeness without consent"],
    ["illegal", "Something illegal"],
    ["other", "Something else"],
];
const REASON_LABEL = Object.fromEntries(REASONS);
const PATHS = { post: "posts", comment: "comments", user: "users", cameo: "cameos" };

// A person reports a thing once: reporting it again answers the first report, unchanged,
// marked `repeated`.
function answerText(filed) {
    if (!filed.repeated) return "Thanks. Our moderators will take a look.";
    if (filed.state !== "open") return "You reported this before, and the moderators have looked at it.";
    return `You reported this already, as “${REASON_LABEL[filed.reason] || filed.reason}”. The moderators have it.`;
}

/** kind: post | comment | user | cameo; id: its id (a user's handle); what: how to name it. */
export function openReport(kind, id, what) {
    let reason = null;
    const list = h("div.radio-list", { role: "radiogroup", "aria-label": "Reason" });
    const note = h("textarea.textarea", { rows: 2, maxLength: 1000, placeholder: "Anything the moderators should know (optional)", "aria-label": "Note" });
    const send = h("button.btn.danger", { style: { flex: "1" }, disabled: true, dataset: { sendReport: "" } }, icon("shield"), "Report");
    const render = () => clear(list, REASONS.map(([value, label]) => h("button.radio-row", {
        type: "button", role: "radio", "aria-checked": String(reason === value), dataset: { reason: value },
        onclick: () => { reason = value; send.disabled = false; render(); },
    }, h("span.grow", h("strong", label)), h("span.radio-dot"))));
    render();
    const s = sheet({ title: `Report ${what}`, body: h("div", { style: { display: "flex", flexDirection: "column", gap: "12px" } }, list, note), foot: [send] });
    send.onclick = async () => {
        busy(send, true);
        try {
            const text = note.value.trim();
            const filed = await httpPost(`/v1/${PATHS[kind]}/${encodeURIComponent(id)}/report`, { reason, text });
            s.close();
            toast(answerText(filed), { iconName: "shield", ms: 4200 });
        } catch (err) {
            busy(send, false);
            toast(err.message, { iconName: "alert" });
        }
    };
    return s;
}
