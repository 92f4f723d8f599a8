"""Objects only demo data, tests and benchmarks create (the service itself creates no nodes by hand,
batches, recipes or events yet): written straight through the models, as records. Never deployed."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain import BatchRecord, EventRecord, NodeRecord, RecipeRecord, RecipeTypeRecord
from chalicelib.models.ids import next_id, next_ids
from chalicelib.models.tables import Batch, Node, Recipe, RecipeType, TriggerEvent, to_item


def create_node(hostname: str, now: datetime, **fields: Any) -> NodeRecord:
    node = NodeRecord(id=next_id("node"), hostname=hostname, created=now, last_modified=now, **fields)
    to_item(node, Node).save()
    return node


def create_batch(title: str | None, description: str | None, now: datetime) -> BatchRecord:
    batch = BatchRecord(id=next_id("batch"), title=title, description=description, created=now)
    to_item(batch, Batch).save()
    return batch


def create_recipe_type(name: str, title: str | None, description: str | None, now: datetime) -> RecipeTypeRecord:
    recipe_type = RecipeTypeRecord(id=next_id("recipe_type"), name=name, title=title, description=description,
                                   revision_num=1, revision_id=next_id("recipe_type_rev"), created=now)
    to_item(recipe_type, RecipeType).save()
    return recipe_type


def create_recipe(recipe_type: RecipeTypeRecord, event_id: int | None, batch_id: int | None,
                  now: datetime) -> RecipeRecord:
    recipe = RecipeRecord(id=next_id("recipe"), recipe_type_id=recipe_type.id,
                          recipe_type_rev_id=recipe_type.revision_id, event_id=event_id, batch_id=batch_id,
                          created=now)
    to_item(recipe, Recipe).save()
    return recipe


def create_event(event_type: str, now: datetime, description: dict[str, Any] | None = None) -> EventRecord:
    event = EventRecord(id=next_id("event"), type=event_type, occurred=now, description=description)
    to_item(event, TriggerEvent).save()
    return event


def allocate(name: str, count: int) -> range:
    return next_ids(name, count)
