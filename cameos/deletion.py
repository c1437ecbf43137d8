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

from cameos import grants, identity, store
from core.stores import Stores

if TYPE_CHECKING:
    from core.media_store import MediaStore


async def delete_cameo(stores: Stores, media: MediaStore, cameo_id: str) -> bool:
    """Erase ``cameo_id``; False when there was no such cameo."""
    existed = await store.erase(stores, media, cameo_id)
    await grants.delete_for_cameo(stores, cameo_id)
    await identity.forget_cameo(stores, cameo_id)
    return existed
