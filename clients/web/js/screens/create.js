// Create: a prompt with @ autocomplete of usable cameos, length and size
// from what the server makes, then the live preview while it renders
// (progress, cancel), then post it, keep it as a draft, or discard it.
import { h, clear } from "../dom.js";
import { icon } from "../icons.js";
import { config } from "../config.js";
import { post as httpPost, get, del } from "../api.js";
import { socket } from "../socket.js";
import { session } from "../session.js";
import { navigate } from "../router.js";
import { mediaUrl } from "../media.js";
import { usableCameos } from "../cameos.js";
import { choosePreviewSource } from "../preview/source.js";
import { PreviewPlayer } from "../preview/player.js";
import { avatar, busy, confirm, formError, toast } from "../ui.js";
import { forgetDraft, keepDraft, visibilityPicker } from "../drafts.js";

const SHAPES = { portrait: "Portrait", square: "Square", landscape: "Landscape" };

function shapeOf(size) {
    const [w, hgt] = size.split("x").map(Number);
    return w === hgt ? "square" : w < hgt ? "portrait" : "landscape";
}

function sizeChip(size, pressed, onclick) {
    const [w, hgt] = size.split("x").map(Number);
    const k = 16 / Math.max(w, hgt);
    return h("button.chip", { type: "button", "aria-pressed": String(pressed), dataset: { size }, onclick },
        h("span.shape", { style: { width: `${Math.round(w * k)}px`, height: `${Math.round(hgt * k)}px` } }), size);
}

export function CreateScreen(query) {
    const remixOf = query.get("remix");
    const from = query.get("from");
    let seconds = config.seconds[0];
    let size = config.sizes.includes(config.default_size) ? config.default_size : config.sizes[0];
    let cameos = [];
    let job = null;
    let cleanup = [];

    const body = h("div.screen-body.create");
    const el = h("section.screen.scroll", h("header.topbar", h("h1", remixOf ? "Remix" : "New video")), body);

    // --- compose -------------------------------------------------------------
    const prompt = h("textarea.textarea.prompt", {
        placeholder: "Describe a scene… use @ to put someone's cameo in it",
        maxLength: 4000, rows: 4, "aria-label": "Prompt", autocomplete: "off", spellcheck: true,
    }, query.get("prompt") || "");
    const menu = h("div.menu.mention-menu", { role: "listbox", hidden: true });
    const cameoStrip = h("div.cameo-strip", h("div.skeleton", { style: { width: "120px", height: "34px", borderRadius: "999px" } }));
    const lengthChips = h("div.chips", { role: "group", "aria-label": "Length" });
    const sizeChips = h("div.chips", { role: "group", "aria-label": "Size" });
    const error = formError();
    const submit = h("button.btn.primary.block", { type: "submit" }, icon("sparkle"), remixOf ? "Remix it" : "Create");

    const shapeSeg = h("div.segmented", { role: "group", "aria-label": "Shape" });
    function renderChoices() {
        clear(lengthChips, config.seconds.map((s) => h("button.chip", { type: "button", "aria-pressed": String(s === seconds), dataset: { seconds: String(s) }, onclick: () => { seconds = s; renderChoices(); } }, `${s}s`)));
        const area = (s) => s.split("x").reduce((a, b) => a * b, 1);
        const shape = shapeOf(size);
        const shapes = Object.keys(SHAPES).filter((k) => config.sizes.some((s) => shapeOf(s) === k));
        clear(shapeSeg, shapes.map((k) => h("button", { type: "button", "aria-pressed": String(k === shape), dataset: { shape: k }, onclick: () => {
            const options = config.sizes.filter((s) => shapeOf(s) === k).sort((a, b) => area(a) - area(b));
            size = options.includes(config.default_size) ? config.default_size : options[0];
            renderChoices();
        } }, SHAPES[k])));
        const same = config.sizes.filter((s) => shapeOf(s) === shape).sort((a, b) => area(a) - area(b));
        clear(sizeChips, same.map((s) => sizeChip(s, s === size, () => { size = s; renderChoices(); })));
    }
    renderChoices();

    // @ autocomplete
    let picks = [];
    let active = 0;
    function mentionAtCaret() {
        const upto = prompt.value.slice(0, prompt.selectionStart);
        const m = /(^|[^\w.+\-/@])@([\w.]{0,40})$/.exec(upto);
        return m ? { query: m[2].toLowerCase(), start: upto.length - m[2].length - 1 } : null;
    }
    function closeMenu() { menu.hidden = true; picks = []; }
    function renderMenu() {
        const at = mentionAtCaret();
        if (!at) return closeMenu();
        picks = cameos.filter((c) => c.mention.slice(1).toLowerCase().startsWith(at.query) || c.name.toLowerCase().includes(at.query)).slice(0, 6);
        if (!picks.length) return closeMenu();
        active = Math.min(active, picks.length - 1);
        clear(menu, picks.map((c, i) => h("button", {
            type: "button", role: "option", "aria-selected": String(i === active),
            onmousedown: (e) => { e.preventDefault(); insert(c); },
        }, avatar(c.owner, "sm"), h("span", h("strong", c.mention), h("span.meta", ` ${c.name}`)), h("span.meta", c.basis === "yours" ? "You" : c.basis === "approved" ? "Approved" : "Open"))));
        menu.hidden = false;
    }
    function insert(cameo) {
        const at = mentionAtCaret();
        const text = prompt.value;
        const start = at ? at.start : prompt.selectionStart;
        const end = prompt.selectionStart;
        const before = text.slice(0, start);
        const spacer = before && !/\s$/.test(before) ? " " : "";
        prompt.value = before + spacer + cameo.mention + " " + text.slice(end);
        const caret = (before + spacer + cameo.mention + " ").length;
        prompt.setSelectionRange(caret, caret);
        prompt.focus();
        closeMenu();
    }
    prompt.addEventListener("input", () => { active = 0; renderMenu(); });
    prompt.addEventListener("click", renderMenu);
    prompt.addEventListener("blur", () => setTimeout(closeMenu, 120));
    prompt.addEventListener("keydown", (e) => {
        if (menu.hidden) {
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) { e.preventDefault(); form.requestSubmit(); }
            return;
        }
        if (e.key === "ArrowDown") { e.preventDefault(); active = (active + 1) % picks.length; renderMenu(); }
        else if (e.key === "ArrowUp") { e.preventDefault(); active = (active - 1 + picks.length) % picks.length; renderMenu(); }
        else if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); insert(picks[active]); }
        else if (e.key === "Escape") closeMenu();
    });

    usableCameos().then((list) => {
        cameos = list;
        if (!list.length) {
            clear(cameoStrip, h("a.cameo-cta", { href: "/cameo/new" }, h("span.art", icon("face")),
                h("span", h("strong", "Make your cameo"), h("span.meta", "Record yourself once, then star in any video.")), icon("right")));
        } else {
            clear(cameoStrip, list.map((c) => h("button.chip.cameo-pick", { type: "button", onclick: () => insert(c), dataset: { mention: c.mention } }, avatar(c.owner, "sm"), c.mention)));
        }
    });

    const form = h("form.compose", { onsubmit: (e) => { e.preventDefault(); start(); } },
        remixOf ? h("div.banner", icon("remix"), h("span", from
            ? `A new take on @${from}'s video: same length, size and seed. Post it and they'll see your remix.`
            : "A new take on your video: same length, size and seed.")) : null,
        h("div.prompt-wrap", prompt, menu),
        h("div.field", h("span", "Cameos"), cameoStrip),
        remixOf ? null : h("div.field", h("span", "Length"), lengthChips),
        remixOf ? null : h("div.field", h("span", "Size"), shapeSeg, sizeChips),
        error,
        submit,
    );

    function compose() {
        job = null;
        clear(body, form);
        error.show("");
        busy(submit, false);
    }

    async function start() {
        const text = prompt.value.trim();
        if (!text) { error.show("Write what should happen in the video."); prompt.focus(); return; }
        error.show("");
        form.querySelectorAll(".refusal").forEach((n) => n.remove());  // an earlier prompt's refusal is not this one's
        busy(submit, true, "Starting…");
        try {
            const made = remixOf
                ? await httpPost(`/v1/videos/${remixOf}/remix`, { prompt: text })
                : await httpPost("/v1/videos", { prompt: text, seconds: String(seconds), size });
            making(made);
        } catch (err) {
            busy(submit, false);
            refusal(err);
        }
    }

    function refusal(err) {
        const refused = err.status === 422 || err.status === 403;
        error.show(refused ? "" : err.message);
        form.querySelectorAll(".refusal").forEach((n) => n.remove());
        if (refused) {
            submit.before(h("div.refusal", { role: "alert" }, h("span.art", icon("shield")),
                h("div", h("strong", "We can't make this one"), h("p", err.message))));
        }
    }

    // --- making ---------------------------------------------------------------
    function making(video) {
        job = video;
        const [w, hgt] = video.size.split("x").map(Number);
        const canvas = h("canvas.preview-canvas", { width: 360, height: Math.round((360 * hgt) / w), "aria-label": "Live preview" });
        const bar = h("div");
        const line = h("p.making-status", "Waiting for a free worker…");
        const cancel = h("button.btn.ghost.block", { onclick: onCancel }, icon("close"), "Cancel");
        clear(body, h("div.making",
            h("div.preview-frame", { style: { aspectRatio: `${w} / ${hgt}` } }, canvas, h("div.preview-glow"), h("span.live-dot", "Live preview")),
            h("div.progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, bar),
            line,
            h("p.making-prompt", `“${video.prompt}”`),
            cancel));
        const player = new PreviewPlayer(canvas);
        const source = choosePreviewSource(socket, video.id);
        player.attach(source);
        const setProgress = (p, text) => {
            bar.style.width = `${p}%`;
            bar.parentElement.setAttribute("aria-valuenow", String(p));
            if (text) line.textContent = text;
        };
        let ended = false;
        const finish = (v) => {
            if (ended) return;
            ended = true;
            stop();
            if (v.status === "completed") done(v);
            else if (v.error && v.error.code === "cancelled") { toast("Cancelled", { iconName: "close" }); compose(); }
            else failed(v);
        };
        const offs = [
            socket.on("progress", (d) => d.video_id === video.id && setProgress(d.progress, `Making it… step ${d.step} of ${d.steps}`)),
            socket.on("status", (d) => d.video_id === video.id && d.status === "in_progress" && setProgress(d.progress, "Making it…")),
            socket.on("video", (v) => v.id === video.id && (v.status === "completed" || v.status === "failed") && finish(v)),
            socket.on("open", () => subscribe()),
        ];
        const subscribe = () => socket.request("subscribe", { video_id: video.id, previews: source.viaSocket }).catch(() => {});
        subscribe();
        // a slow safety net for a message lost in a reconnect
        const poll = setInterval(async () => {
            try { const v = await get(`/v1/videos/${video.id}`); if (v.status === "completed" || v.status === "failed") finish(v); } catch { /* next time */ }
        }, 4000);
        function stop() {
            offs.forEach((off) => off());
            clearInterval(poll);
            player.detach();
            socket.send("unsubscribe", { video_id: video.id });
        }
        cleanup.push(stop);
        async function onCancel() {
            busy(cancel, true, "Cancelling…");
            try { await httpPost(`/v1/videos/${video.id}/cancel`); }
            catch (err) { if (err.code !== "video_finished") { busy(cancel, false); toast(err.message, { iconName: "alert" }); } }
        }
    }

    function failed(video) {
        const why = (video.error && video.error.message) || "Something went wrong while making it.";
        clear(body, h("div.refusal.big", { role: "alert" }, h("span.art", icon("alert")), h("div", h("strong", "This video didn't come out"), h("p", why))),
            h("button.btn.primary.block", { onclick: compose }, "Try again"));
    }

    // --- done -------------------------------------------------------------------
    function done(video) {
        const player = h("video.result", { controls: true, loop: true, playsInline: true, autoplay: true, muted: true });
        player.muted = true;
        mediaUrl(`/v1/videos/${video.id}/content`).then((u) => { player.src = u; player.play().catch(() => {}); });
        const caption = h("textarea.textarea", { maxLength: 2200, rows: 2, "aria-label": "Caption" }, video.prompt);
        const vis = visibilityPicker();
        const postBtn = h("button.btn.primary.block", { onclick: publish }, icon("send"), "Post");
        const err = formError();
        clear(body, h("div.done",
            h("div.result-frame", player),
            h("label.field", h("span", "Caption"), caption),
            h("div.field", h("span", "Who can see it"), vis.el),
            err,
            postBtn,
            h("div.row-actions",
                h("button.btn.ghost", { dataset: { saveDraft: "" }, onclick: () => {
                    keepDraft(video.id, caption.value, vis.value);
                    toast("Saved to your drafts", { iconName: "draft" });
                    navigate("/me?tab=drafts");
                } }, icon("draft"), "Save draft"),
                h("button.btn.danger", { onclick: discard }, icon("trash"), "Discard"))));
        async function publish() {
            busy(postBtn, true, "Posting…");
            err.show("");
            try {
                const made = await httpPost("/v1/posts", { video_id: video.id, caption: caption.value.trim(), visibility: vis.value });
                forgetDraft(video.id);
                toast("Posted", { iconName: "check" });
                navigate(`/p/${made.id}`);
            } catch (e) {
                busy(postBtn, false);
                err.show(e.message);
            }
        }
        async function discard() {
            if (!(await confirm("Discard this video?", { action: "Discard", detail: "It will be deleted for good." }))) return;
            try { await del(`/v1/videos/${video.id}`); toast("Discarded", { iconName: "trash" }); compose(); }
            catch (e) { toast(e.message, { iconName: "alert" }); }
        }
    }

    compose();
    setTimeout(() => prompt.focus(), 60);
    return {
        el,
        title: "Create · Fabula",
        destroy() { cleanup.forEach((fn) => fn()); cleanup = []; },
    };
}
