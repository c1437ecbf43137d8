// Cameo onboarding: a one-time challenge (digits to say, head turns in
// order), the camera and microphone, a countdown, a guided recording, the
// upload, and the verdict with its reasons; a retry gets a new challenge.
import { h, clear, sleep } from "../dom.js";
import { icon } from "../icons.js";
import { post as httpPost, upload } from "../api.js";
import { navigate } from "../router.js";
import { busy, formError } from "../ui.js";

const COUNTDOWN_S = 3;
const RECORD_MS = 8000;
const FIRST_CUE_MS = 900; // when the first turn is asked for
const CUE_MS = 2300; // how long each turn is shown
const TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"];

const REASONS = {
    digits: (d) => `We couldn't make out the digits${d.digits_heard ? ` (we heard ${d.digits_heard.split("").join(" ")})` : ""}. Say them clearly, one by one.`,
    moves: (d) => `We didn't see the head turns in order: ${(d.moves_expected || []).map((m) => `to your ${m}`).join(", then ")}.`,
    face_count: () => "Keep one face in the frame, yours, for the whole recording.",
    lips: () => "Your lips didn't move with the voice. Say the digits yourself, on camera.",
    identity: () => "The face changed during the recording. Record yourself alone.",
    duration: () => "The recording was too short or too long.",
    no_audio: () => "We got no sound. Check that your microphone is on.",
    no_video: () => "We got no picture. Check that your camera is on.",
};

const arrow = (move) => icon(move === "left" ? "left" : "right");
const turnText = (move) => `Turn to your ${move}`;

export function OnboardingScreen() {
    let challenge = null;
    let stream = null;
    let alive = true;
    const body = h("div.onboard-body");
    const el = h("section.screen.onboard",
        h("header.topbar", h("a.icon-btn", { href: "/me", "aria-label": "Close" }, icon("close")), h("h1", "Your cameo")),
        body);

    function stopCamera() {
        if (stream) stream.getTracks().forEach((t) => t.stop());
        stream = null;
    }

    function intro() {
        const go = h("button.btn.primary.block", { onclick: () => newChallenge(go) }, icon("camera"), "Get started");
        const err = formError();
        clear(body, h("div.onboard-intro",
            h("div.onboard-art", h("span.ring"), h("span.face-icon", icon("face"))),
            h("h2", "Star in your own videos"),
            h("p", "Record a short clip so we know it's really you. Only you decide who may use your cameo."),
            h("ol.steps",
                h("li", h("span.n", "1"), h("span", "Say the digits we show you")),
                h("li", h("span.n", "2"), h("span", "Turn your head the way the arrows point, one at a time")),
                h("li", h("span.n", "3"), h("span", "We check it in seconds and keep only what your cameo needs"))),
            err, go));
        go.err = err;
    }

    async function newChallenge(button) {
        if (button) busy(button, true, "Getting your challenge…");
        try {
            challenge = await httpPost("/v1/cameos/challenges");
            camera();
        } catch (err) {
            if (button) { busy(button, false); button.err && button.err.show(err.message); }
        }
    }

    async function camera() {
        const video = h("video.selfie", { autoplay: true, muted: true, playsInline: true });
        video.muted = true;
        const overlay = h("div.stage-overlay");
        const cue = h("div.cue", { "aria-live": "assertive" });
        const timer = h("div.rec-timer", { hidden: true }, h("div"));
        const record = h("button.record-btn", { disabled: true, "aria-label": "Record" }, h("span"));
        const err = formError();
        const card = h("div.challenge-card", {
            dataset: { digits: challenge.digits, moves: challenge.moves.join(","), challengeId: challenge.id },
        },
            h("div.challenge-label", "Say out loud"),
            h("div.digits", challenge.digits.split("").map((d) => h("span", d))),
            h("div.challenge-label", "Then turn"),
            h("div.moves", challenge.moves.map((m, i) => h("span.move", arrow(m), h("span", `${i + 1}. your ${m}`)))));
        clear(body, h("div.stage", video, overlay, cue, timer), card, err, h("div.record-row", record, h("span.record-hint", "Camera warming up…")));
        try {
            stream = await navigator.mediaDevices.getUserMedia({
                video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
                audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
            });
        } catch (e) {
            err.show(e.name === "NotAllowedError" ? "Allow the camera and microphone to record your cameo." : "We couldn't start your camera and microphone.");
            return;
        }
        if (!alive) return stopCamera();
        video.srcObject = stream;
        record.disabled = false;
        el.querySelector(".record-hint").textContent = "Press to start. Take a breath: you'll have 3 seconds.";
        record.onclick = () => countdown({ video, overlay, cue, timer, record, err });
    }

    async function countdown(ui) {
        ui.record.disabled = true;
        el.querySelector(".record-hint").textContent = "Get ready…";
        for (let n = COUNTDOWN_S; n > 0; n--) {
            clear(ui.overlay, h("span.count", String(n)));
            await sleep(1000);
            if (!alive) return;
        }
        clear(ui.overlay);
        recordClip(ui);
    }

    async function recordClip({ cue, timer, record, err }) {
        const mimeType = TYPES.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t)) || "";
        const recorder = new MediaRecorder(stream, mimeType ? { mimeType, videoBitsPerSecond: 2500000 } : undefined);
        const chunks = [];
        recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
        const stopped = new Promise((r) => (recorder.onstop = r));
        recorder.start(500);
        el.classList.add("recording");
        el.querySelector(".record-hint").textContent = "Recording";
        timer.hidden = false;
        const bar = timer.firstElementChild;
        bar.style.transition = `width ${RECORD_MS}ms linear`;
        requestAnimationFrame(() => (bar.style.width = "100%"));
        const started = performance.now();
        const show = (node) => clear(cue, node);
        show(h("div.cue-digits", h("span.cue-label", "Say"), challenge.digits.split("").join(" ")));
        const ticks = setInterval(() => {
            const t = performance.now() - started;
            const i = Math.floor((t - FIRST_CUE_MS) / CUE_MS);
            if (t < FIRST_CUE_MS) return;
            if (i < challenge.moves.length) {
                const move = challenge.moves[i];
                if (cue.dataset.move !== `${i}`) {
                    cue.dataset.move = `${i}`;
                    show(h(`div.cue-turn.${move}`, { dataset: { move } }, arrow(move), h("span", turnText(move))));
                }
            } else if (cue.dataset.move !== "done") {
                cue.dataset.move = "done";
                show(h("div.cue-turn", icon("face"), h("span", "Now look at the camera")));
            }
        }, 100);
        await sleep(RECORD_MS);
        clearInterval(ticks);
        recorder.stop();
        await stopped;
        el.classList.remove("recording");
        stopCamera();
        if (!alive) return;
        const type = (recorder.mimeType || mimeType || "video/webm").split(";")[0];
        send(new Blob(chunks, { type }), type);
    }

    async function send(blob, type) {
        const bar = h("div");
        const line = h("p.making-status", "Uploading…");
        clear(body, h("div.checking", h("div.onboard-art", h("span.ring.spin"), h("span.face-icon", icon("shield"))),
            h("h2", "Checking it's really you"), line, h("div.progress", bar)));
        const form = new FormData();
        form.append("challenge_id", challenge.id);
        form.append("video", blob, type === "video/mp4" ? "cameo.mp4" : "cameo.webm");
        try {
            const cameo = await upload("/v1/cameos", form, (p) => {
                bar.style.width = `${Math.round(p * 100)}%`;
                if (p >= 1) line.textContent = "Looking for your face, your turns and your voice…";
            });
            success(cameo);
        } catch (err) {
            failure(err);
        }
    }

    function success(cameo) {
        clear(body, h("div.verdict.ok", { dataset: { verdict: "ok" } },
            h("div.verdict-icon", icon("check")),
            h("h2", "Your cameo is ready"),
            h("p", `Put yourself in any video with ${cameo.mention}. Right now only you can use it.`),
            h("a.btn.primary.block", { href: "/cameo" }, icon("settings"), "Choose who can use it"),
            h("a.btn.ghost.block", { href: `/create?prompt=${encodeURIComponent(cameo.mention + " ")}` }, icon("sparkle"), "Make a video with it")));
    }

    function failure(err) {
        const d = err.details || {};
        const reasons = err.code === "liveness_failed" && Array.isArray(d.failures)
            ? d.failures.map((f) => (REASONS[f] ? REASONS[f](d) : f))
            : [err.message];
        const again = h("button.btn.primary.block", { onclick: () => newChallenge(again) }, icon("refresh"), "Try again with a new challenge");
        const tooMany = err.code === "cameo_exists";
        clear(body, h("div.verdict.fail", { dataset: { verdict: "fail", code: err.code || "" } },
            h("div.verdict-icon", icon("close")),
            h("h2", tooMany ? "You already have a cameo" : "That didn't pass"),
            h("ul.reasons", reasons.map((r) => h("li", icon("alert"), h("span", r)))),
            tooMany ? h("a.btn.primary.block", { href: "/cameo" }, "Go to your cameo") : again,
            h("a.btn.ghost.block", { href: "/me" }, "Not now")));
    }

    intro();
    return {
        el,
        title: "Your cameo · Fabula",
        destroy() { alive = false; stopCamera(); },
    };
}
