// A video's live preview over WebRTC (docs/WEBSOCKET.md, "Live previews over
// WebRTC"): the api answers our SDP offer with a peer that sends one video
// track: the newest preview at once, each new denoising step, then the
// finished clip once, then the track ends.
//
//   openRtcPreview(videoId, token, videoElement, { timeoutMs, baseUrl })
//     -> Promise<{ close(), peerId, pc, ended: Promise<void> }>
//
// plays the track in videoElement (muted, inline) and resolves once the
// connection is up; it rejects (and closes everything) when the server
// refuses the offer (an Error with .status and .code, e.g. 429
// too_many_peers, 503 rtc_busy) or when the peer is not connected within
// timeoutMs. `ended` resolves when the server ends the track.
//
// RtcPreviewSource is the same thing as a preview source for the app's
// PreviewPlayer (preview/source.js): it shows the app's socket's JPEG frames
// at once and tries WebRTC meanwhile; the track's first frame takes over
// (and the socket's frames are turned off), and when WebRTC does not connect
// in time the socket's frames simply stay. registerRtcPreviews(socket)
// makes choosePreviewSource() try it for every video.
import { registerPreviewSource } from "./preview/source.js";
import { WebSocketPreviewSource } from "./preview/ws_source.js";
import { session } from "./session.js";

export const RTC_TIMEOUT_MS = 2500;

class RtcError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

function gathered(pc, timeoutMs) {
    // no trickle ICE: the offer goes out with every candidate in it
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(done, timeoutMs); // send what we have: host candidates come first
        function done() {
            clearTimeout(timer);
            pc.removeEventListener("icegatheringstatechange", check);
            resolve();
        }
        function check() { if (pc.iceGatheringState === "complete") done(); }
        pc.addEventListener("icegatheringstatechange", check);
    });
}

export async function openRtcPreview(videoId, token, videoElement, { timeoutMs = RTC_TIMEOUT_MS, baseUrl = "" } = {}) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    let timer = null;
    let endedResolve;
    const ended = new Promise((resolve) => { endedResolve = resolve; });
    const close = () => {
        clearTimeout(timer);
        pc.getReceivers().forEach((r) => r.track && r.track.stop());
        pc.close();
        if (videoElement.srcObject) videoElement.srcObject = null;
        endedResolve();
    };
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new RtcError(0, "rtc_timeout", `not connected within ${timeoutMs} ms`)), timeoutMs);
    });
    const connect = async () => {
        pc.addTransceiver("video", { direction: "recvonly" });
        const connected = new Promise((resolve, reject) => {
            pc.addEventListener("connectionstatechange", () => {
                if (pc.connectionState === "connected") resolve();
                else if (pc.connectionState === "failed" || pc.connectionState === "closed") reject(new RtcError(0, "rtc_failed", `connection ${pc.connectionState}`));
            });
        });
        connected.catch(() => {}); // read below, or dropped with the timeout
        pc.addEventListener("track", (event) => {
            videoElement.muted = true;
            videoElement.playsInline = true;
            videoElement.autoplay = true;
            videoElement.srcObject = event.streams[0] || new MediaStream([event.track]);
            videoElement.play().catch(() => { /* autoplay of a muted video is allowed; a refusal leaves the element paused */ });
            event.track.addEventListener("ended", endedResolve);
        });
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc, Math.min(1000, timeoutMs));
        const response = await fetch(`${baseUrl}/v1/videos/${encodeURIComponent(videoId)}/preview/rtc`, {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
            body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
        });
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
            const err = body.error || {};
            throw new RtcError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`);
        }
        await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
        await connected;
        return body;
    };
    try {
        const body = await Promise.race([connect(), timeout]); // the whole exchange, not just ICE, is bounded
        clearTimeout(timer);
        pc.addEventListener("connectionstatechange", () => {
            if (pc.connectionState === "failed" || pc.connectionState === "closed") endedResolve();
        });
        return { close, peerId: body.peer_id, pc, ended };
    } catch (err) {
        close();
        throw err;
    }
}

// Calls fn on every new frame the element shows.
function eachFrame(video, fn) {
    let stopped = false;
    if (typeof video.requestVideoFrameCallback === "function") {
        const next = () => { if (!stopped) video.requestVideoFrameCallback(() => { if (!stopped) { fn(); next(); } }); };
        next();
    } else {
        let last = -1;
        const tick = () => {
            if (stopped) return;
            if (video.currentTime !== last && video.readyState >= 2) { last = video.currentTime; fn(); }
            requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
    }
    return () => { stopped = true; };
}

export class RtcPreviewSource {
    constructor(socket, videoId, { timeoutMs = RTC_TIMEOUT_MS } = {}) {
        this.socket = socket;
        this.videoId = videoId;
        this.timeoutMs = timeoutMs;
        this.kind = "webrtc";
        // the socket's JPEG frames show while WebRTC connects, so the job's subscription asks for
        // them; once the track shows its first frame it takes over and they are turned off
        this.viaSocket = true;
        this.bridge = null;
        this.peer = null;
        this.video = null;
        this.stopFrames = null;
        this.stopped = false;
    }

    async start(onFrame) {
        this.bridge = new WebSocketPreviewSource(this.socket, this.videoId);
        await this.bridge.start(onFrame);
        const video = document.createElement("video");
        video.className = "rtc-preview-sink";
        Object.assign(video.style, { position: "fixed", width: "2px", height: "2px", opacity: "0", pointerEvents: "none", left: "0", top: "0" });
        document.body.appendChild(video);
        this.video = video;
        try {
            this.peer = await openRtcPreview(this.videoId, session.token, video, { timeoutMs: this.timeoutMs });
        } catch {
            // no WebRTC: the socket's frames, already showing, stay
            video.remove();
            this.video = null;
            this.kind = "websocket";
            return;
        }
        if (this.stopped) { this.stop(); return; }
        this.stopFrames = eachFrame(video, () => {
            if (this.bridge) this._handOver();
            onFrame({ image: video, step: null, steps: null });
        });
    }

    _handOver() {
        this.bridge.stop();
        this.bridge = null;
        this.viaSocket = false;
        this.socket.request("subscribe", { video_id: this.videoId, previews: false }).catch(() => {});
    }

    stop() {
        this.stopped = true;
        if (this.stopFrames) this.stopFrames();
        this.stopFrames = null;
        if (this.peer) this.peer.close();
        this.peer = null;
        if (this.bridge) this.bridge.stop();
        this.bridge = null;
        if (this.video) this.video.remove();
        this.video = null;
    }
}

/** Make the app's choosePreviewSource() try WebRTC first for every video. */
export function registerRtcPreviews(socket, options = {}) {
    if (typeof RTCPeerConnection !== "function") return;
    registerPreviewSource((videoId) => new RtcPreviewSource(socket, videoId, options));
}
