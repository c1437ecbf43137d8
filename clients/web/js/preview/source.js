// Where a job's live preview comes from. A preview source is any object with
//
//   kind: "websocket" | "webrtc" | …     (for display and tests)
//   viaSocket: boolean                   (whether the job's WebSocket subscription must ask for preview frames)
//   start(onFrame): Promise<void>        (onFrame({image, step, steps}) for each new picture;
//                                          image: anything canvas drawImage takes, e.g. an ImageBitmap
//                                          or a playing HTMLVideoElement; step/steps may be null)
//   stop(): void
//
// Today frames come as JPEGs on the app's WebSocket (WebSocketPreviewSource).
// A WebRTC source plugs in here: try it first, keep it when it delivers a
// frame within a short time, and fall back to the WebSocket otherwise.
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
