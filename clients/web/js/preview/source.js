// Where a job's live preview comes from. A preview source is any object with
//
//   kind: "websocket" | "webrtc" | …     (for display and tests)
//   viaSocket: boolean                   (whether the job's WebSocket subscription must ask for preview frames)
//   start(onFrame): Promise<void>        (onFrame({image, step, steps}) for each new picture;
//                                          image: anything canvas drawImage takes, e.g. an ImageBitmap
//                                          or a playing HTMLVideoElement; step/steps may be null)
//   stop(): void
//
// Frames come as JPEGs on the app's WebSocket (WebSocketPreviewSource).
// Other sources plug in here: the WebRTC one (rtc_preview.js) shows the
// socket's frames while it connects and takes over at its first frame.
import { WebSocketPreviewSource } from "./ws_source.js";

const factories = [];

/** Register a source to try before the WebSocket: make(videoId) -> source or null. */
export function registerPreviewSource(make) {
    factories.push(make);
}

export function choosePreviewSource(socket, videoId) {
    for (const make of factories) {
        const source = make(videoId);
        if (source) return source;
    }
    return new WebSocketPreviewSource(socket, videoId);
}
