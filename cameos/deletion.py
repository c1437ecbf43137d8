"""Deleting a cameo: the likeness goes at once and whole.

Erased: the document (name, settings and the face embedding), every media
object under the cameo's id (reference frames, voice sample), the grants,
and the review entries about attempts on it. Kept: its appearances, which
name videos and their creators, not the likeness, so that the owner can
still list and remove the videos it was used in
(``GET``/``DELETE /v1/cameos/{id}/appearances``); each goes with its video.
The recording it was made from was never kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cameos import appearances, grants, identity, store
from core.stores import Stores

if TYPE_CHECKING:
    from core.media_store import MediaStore


async def delete_cameo(stores: Stores, media: MediaStore, cameo_id: str) -> bool:
    """Erase ``cameo_id``; False when there was no such cameo."""
    existed = await store.erase(stores, media, cameo_id)
    await grants.delete_for_cameo(stores, cameo_id)
    await identity.forget_cameo(stores, cameo_id)
    return existed


async def delete_account_cameos(stores: Stores, media: MediaStore, user_id: str) -> int:
    """Everything of the cameos package about a user whose account is being
    deleted: each of their cameos erased as above, then what the account
    itself left: their requests to use others' cameos, the appearances of
    their cameos (their videos go with the account) and the review entries
    about their attempts or their cameos. Returns how many cameos went."""
    owned = await store.list_owned(stores, user_id)
    for cameo in owned:
        await delete_cameo(stores, media, cameo.id)
    await grants._collection(stores).delete_many({"$or": [{"user_id": user_id}, {"owner_id": user_id}]})
    await appearances._collection(stores).delete_many({"$or": [{"owner_id": user_id}, {"creator_id": user_id}]})
    await identity._reviews(stores).delete_many({"$or": [{"user_id": user_id}, {"matched_owner_id": user_id}]})
    return len(owned)
