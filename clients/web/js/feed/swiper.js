// Vertical paging for the feed: touch and mouse drags, the wheel and the
// arrow keys move one item at a time; a drag down on the first item pulls to
// refresh.
const DRAG_SHARE = 0.16; // of the height, to move on release
const FLICK = 0.45; // px per ms
const PULL = 76; // px, to refresh
const WHEEL_STEP = 60;
const WHEEL_REST_MS = 420;

export class Swiper {
    constructor(viewport, track, { count, onChange, onRefresh, onTap, onEnd }) {
        this.viewport = viewport;
        this.track = track;
        this.count = count; // () => number of items
        this.onChange = onChange;
        this.onRefresh = onRefresh;
        this.onEnd = onEnd; // a move past the last item
        this.index = 0;
        this.drag = null;
        this.wheelSum = 0;
        this.wheelLock = 0;
        this.pullEl = null;
        this._bind(onTap);
        this._place(false);
    }

    get height() { return this.viewport.clientHeight || 1; }

    _place(animate, offset = 0) {
        this.track.style.transition = animate ? "transform 380ms cubic-bezier(0.2, 0.8, 0.2, 1)" : "none";
        this.track.style.transform = `translate3d(0, ${-this.index * this.height + offset}px, 0)`;
    }

    go(to) {
        const last = Math.max(0, this.count() - 1);
        const target = Math.max(0, Math.min(last, to));
        const moved = target !== this.index;
        this.index = target;
        this._place(true);
        if (moved) this.onChange(target);
        else if (to > last && this.onEnd) this.onEnd();
        return moved;
    }

    next() { return this.go(this.index + 1); }
    prev() { return this.go(this.index - 1); }

    _bind(onTap) {
        const v = this.viewport;
        // a swipe may start anywhere but on a control: on the caption and the author's
        // name too, where a thumb rests (a link there is not followed when it was a swipe)
        v.addEventListener("pointerdown", (e) => {
            if (e.button !== 0 || e.target.closest("button, input, textarea, select")) return;
            this.drag = { y: e.clientY, x: e.clientX, t: performance.now(), dy: 0, moved: false, id: e.pointerId };
        });
        v.addEventListener("click", (e) => {
            if (!this.swiped) return;
            this.swiped = false;
            e.preventDefault();
            e.stopPropagation();
        }, true);
        v.addEventListener("pointermove", (e) => {
            const d = this.drag;
            if (!d || e.pointerId !== d.id) return;
            d.dy = e.clientY - d.y;
            if (!d.moved && Math.abs(d.dy) > 8 && Math.abs(d.dy) > Math.abs(e.clientX - d.x)) {
                d.moved = true;
                try { v.setPointerCapture(e.pointerId); } catch { /* fine */ }
            }
            if (!d.moved) return;
            let offset = d.dy;
            const atTop = this.index === 0 && d.dy > 0;
            const atEnd = this.index >= this.count() - 1 && d.dy < 0;
            if (atTop || atEnd) offset = d.dy * 0.35; // resistance at the ends
            this._place(false, offset);
            if (atTop) this._pull(offset);
        });
        const end = (e) => {
            const d = this.drag;
            if (!d || e.pointerId !== d.id) return;
            this.drag = null;
            if (!d.moved) {
                if (e.type === "pointerup" && onTap && !e.target.closest("a")) onTap(e);
                return;
            }
            this.swiped = true;  // the click that may follow is the end of the swipe, not a tap
            setTimeout(() => { this.swiped = false; }, 0);
            const speed = d.dy / Math.max(1, performance.now() - d.t);
            const pulled = this.index === 0 && d.dy * 0.35 > PULL;
            if (pulled) { this._pull(0); this._place(true); this.onRefresh && this.onRefresh(); return; }
            this._pull(0);
            if (d.dy < -this.height * DRAG_SHARE || speed < -FLICK) { if (!this.next()) this._place(true); }
            else if (d.dy > this.height * DRAG_SHARE || speed > FLICK) { if (!this.prev()) this._place(true); }
            else this._place(true);
        };
        v.addEventListener("pointerup", end);
        v.addEventListener("pointercancel", end);
        v.addEventListener("wheel", (e) => {
            e.preventDefault();
            const now = performance.now();
            if (now < this.wheelLock) { this.wheelLock = now + WHEEL_REST_MS / 2; return; }
            this.wheelSum += e.deltaY;
            if (Math.abs(this.wheelSum) >= WHEEL_STEP) {
                const down = this.wheelSum > 0;
                this.wheelSum = 0;
                this.wheelLock = now + WHEEL_REST_MS;
                if (down) this.next();
                else if (this.index === 0 && this.onRefresh) this.onRefresh();
                else this.prev();
            }
        }, { passive: false });
        this.onKey = (e) => {
            if (e.target.closest && e.target.closest("input, textarea, [contenteditable]")) return;
            if (document.querySelector(".sheet-scrim")) return;
            if (e.key === "ArrowDown" || e.key === "j" || e.key === "PageDown") { e.preventDefault(); this.next(); }
            else if (e.key === "ArrowUp" || e.key === "k" || e.key === "PageUp") { e.preventDefault(); this.prev(); }
        };
        document.addEventListener("keydown", this.onKey);
        this.onResize = () => this._place(false);
        addEventListener("resize", this.onResize);
    }

    _pull(offset) {
        if (!this.pullEl) this.pullEl = this.viewport.querySelector(".pull");
        if (!this.pullEl) return;
        const p = Math.min(1, offset / PULL);
        this.pullEl.style.opacity = String(p);
        this.pullEl.style.transform = `translate(-50%, ${Math.min(offset, PULL) - 40}px) rotate(${p * 270}deg)`;
        this.pullEl.classList.toggle("armed", p >= 1);
    }

    destroy() {
        document.removeEventListener("keydown", this.onKey);
        removeEventListener("resize", this.onResize);
    }
}
