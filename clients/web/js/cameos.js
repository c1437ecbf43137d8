// The cameos a person may put in a prompt: their own first, then those whose
// owners approved their request, then open ones ("everyone") of the people
// they follow. Read once per visit to the create screen.
import { get } from "./api.js";
import { session } from "./session.js";

const FOLLOWED_LOOKUPS = 20;

export async function usableCameos() {
    const out = new Map();
    const add = (cameo, basis) => {
        if (!cameo || cameo.paused || out.has(cameo.id)) return;
        out.set(cameo.id, { ...cameo, basis });
    };
    const [mine, approved, following] = await Promise.all([
        get("/v1/me/cameos").catch(() => ({ data: [] })),
        get("/v1/me/cameo-requests?direction=outgoing&state=approved&limit=50").catch(() => ({ data: [] })),
        get(`/v1/users/${encodeURIComponent(session.user.handle)}/following?limit=${FOLLOWED_LOOKUPS}`).catch(() => ({ data: [] })),
    ]);
    mine.data.forEach((c) => add(c, "yours"));
    const granted = await Promise.all(approved.data.map((g) => get(`/v1/cameos/${g.cameo_id}`).catch(() => null)));
    granted.forEach((c) => add(c, "approved"));
    const theirs = await Promise.all(following.data.map((u) => get(`/v1/users/${encodeURIComponent(u.handle)}/cameos`).catch(() => ({ data: [] }))));
    theirs.flatMap((page) => page.data).filter((c) => c.permission === "everyone" || c.my_grant === "approved").forEach((c) => add(c, "open"));
    return [...out.values()];
}
