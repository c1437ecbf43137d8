// Draws a preview source into a canvas: each new picture, scaled to cover,
// with a soft cross-fade; counts what it drew (data-frames, data-step).
export class PreviewPlayer {
    constructor(canvas) {
        this.canvas = canvas;
        this.ctx = canvas.getContext("2d");
        this.source = null;
        this.frames = 0;
        this.raf = 0;
    }

    async attach(source) {
        this.detach();
        this.source = source;
        this.canvas.dataset.source = source.kind;
        await source.start((frame) => this.draw(frame));
        this.canvas.dataset.source = source.kind;  // a source may have fallen back meanwhile (WebRTC -> WebSocket)
    }

    draw({ image, step, steps }) {
        const c = this.canvas;
        const w = image.videoWidth || image.width;
        const hgt = image.videoHeight || image.height;
        if (!w || !hgt) return;
        const scale = Math.max(c.width / w, c.height / hgt);
        const dw = w * scale, dh = hgt * scale;
        this.ctx.imageSmoothingEnabled = true;
        this.ctx.imageSmoothingQuality = "high";
        this.ctx.globalAlpha = this.frames === 0 ? 1 : 0.85;
        this.ctx.drawImage(image, (c.width - dw) / 2, (c.height - dh) / 2, dw, dh);
        this.ctx.globalAlpha = 1;
        this.frames += 1;
        c.dataset.frames = String(this.frames);
        if (step != null) c.dataset.step = `${step}/${steps}`;
        c.classList.add("live");
        c.dispatchEvent(new CustomEvent("previewframe", { bubbles: true, detail: { step, steps, frames: this.frames } }));
        if (image.close) image.close();
    }

    detach() {
        if (this.source) this.source.stop();
        this.source = null;
    }
}
