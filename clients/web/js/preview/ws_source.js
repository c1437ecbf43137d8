// Preview frames from the WebSocket: the binary frames of a job subscribed
// with previews (docs/WEBSOCKET.md), decoded to ImageBitmaps, newest wins.
export class WebSocketPreviewSource {
    constructor(socket, videoId) {
        this.socket = socket;
        this.videoId = videoId;
        this.kind = "websocket";
        this.viaSocket = true;
        this.off = null;
        this.decoding = false;
        this.waiting = null;
    }

    async start(onFrame) {
        this.onFrame = onFrame;
        this.off = this.socket.onFrames(this.videoId, (frame) => this._take(frame));
    }

    async _take(frame) {
        if (this.decoding) { this.waiting = frame; return; } // latest wins while one decodes
        this.decoding = true;
        try {
            const image = await createImageBitmap(frame.image);
            if (this.off) this.onFrame({ image, step: frame.step, steps: frame.steps });
        } catch { /* a frame that does not decode is skipped */ }
        this.decoding = false;
        if (this.waiting) { const next = this.waiting; this.waiting = null; this._take(next); }
    }

    stop() {
        if (this.off) this.off();
        this.off = null;
    }
}
