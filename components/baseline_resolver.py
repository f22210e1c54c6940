"""Resolver strategies of the pipeline: the Evaluator's baseline, the Trainer's warm start, and the references
the data check compares new data with. All of them read ML Metadata lineage (`components/lineage.py`).

Each is written so that an unchanged re-run resolves to what the previous run resolved to, and stays cached:
TFX's LatestBlessedModelStrategy would hand a re-run its own (already blessed) model, which changes the inputs
of everything after it.
"""
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver

from components import lineage


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
  """The Evaluator's baseline: the latest blessed model other than the candidate.

  Inputs `model`, `model_blessing` (all of the pipeline's) and `candidate` (the Trainer's output). Excluding
  the candidate keeps an unchanged re-run fully cached, and a run on new data still compares against the
  previous blessed model (or the one a rollback re-served).
  """

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    del store
    candidate_ids = {a.id for a in input_dict.get('candidate', [])}
    models = {m.id: m for m in input_dict.get('model', [])}
    blessings = input_dict.get('model_blessing', [])
    result = {'model': [], 'model_blessing': [], 'candidate': list(input_dict.get('candidate', []))}
    for model_id in lineage.blessed_model_ids(blessings):
      if model_id in models and model_id not in candidate_ids:
        blessing = next(b for b in sorted(blessings, key=lambda b: b.id, reverse=True)
                        if b.get_int_custom_property('current_model_id') == model_id)
        result['model'], result['model_blessing'] = [models[model_id]], [blessing]
        break
    return result


class WarmStartModelStrategy(resolver.ResolverStrategy):
  """The Trainer's base model: the latest blessed model that was not trained on these very examples.

  Inputs `model`, `model_blessing` (all of the pipeline's) and `examples` (Transform's output for this run). A
  re-run on unchanged data skips the model that data trained, so it resolves to what the first run on the data
  got, and the Trainer stays cached; new data gets the latest blessed model.
  """

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    examples_ids = {a.id for a in input_dict.get('examples', [])}
    models = {m.id: m for m in input_dict.get('model', [])}
    result = {key: [] for key in input_dict}  # the Trainer reads `model` only
    for model_id in lineage.blessed_model_ids(input_dict.get('model_blessing', [])):
      trainer = lineage.producer_execution_id(store, model_id) if model_id in models else None
      if trainer is not None and not lineage.input_artifact_ids(store, trainer) & examples_ids:
        result['model'] = [models[model_id]]
        break
    return result


class DataReferencesStrategy(resolver.ResolverStrategy):
  """What the data check compares this run's data with.

  Inputs: `statistics` and `schema` (this run's StatisticsGen and SchemaGen outputs), `previous_statistics`
  and `served_statistics` (every StatisticsGen output), `fixed_schema` (every SchemaGen output), `model` and
  `model_blessing` (all). Outputs under the same keys:
    - `fixed_schema`: the schema of the first run whose model was blessed (SchemaGen's inference on that run's
      data), or this run's schema while no model is blessed yet, or when `fix_schema` is off (a curated
      schema.pbtxt is imported instead);
    - `previous_statistics`: the latest statistics of an earlier span (drift), empty on the first span;
    - `served_statistics`: the statistics of the data the latest blessed model not trained on this run's data
      was trained on (skew), empty when there is none; so a re-run resolves as the first run on the data did.
  """

  def __init__(self, fix_schema: bool = True, statistics_node: str = 'StatisticsGen',
               schema_node: str = 'SchemaGen'):
    self._fix_schema = fix_schema
    self._statistics_node, self._schema_node = statistics_node, schema_node

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    # Only the three outputs downstream nodes read: an artifact under two output keys is a duplicate event for
    # Airflow's (non-IR) resolver driver, which records every output.
    result = {key: [] for key in input_dict}
    current = input_dict['statistics'][0]
    all_statistics = {a.id: a for a in input_dict.get('previous_statistics', [])
                      if lineage.written_by(a, self._statistics_node, 'statistics')}
    current_span = lineage.examples_span(store, current.id)
    earlier = [a for a in all_statistics.values()
               if a.id != current.id and lineage.examples_span(store, a.id) < current_span]
    result['previous_statistics'] = [max(earlier, key=lambda a: a.id)] if earlier else []

    blessed = lineage.blessed_model_ids(input_dict.get('model_blessing', []))
    result['served_statistics'] = []
    for model_id in blessed:  # newest first; as for warm start, not a model trained on this very data
      in_run = lineage.run_artifact_ids(store, model_id) & set(all_statistics)
      if in_run and current.id not in in_run:
        result['served_statistics'] = [all_statistics[max(in_run)]]
        break

    result['fixed_schema'] = list(input_dict['schema'])
    if self._fix_schema and blessed:
      schemas = {a.id: a for a in input_dict.get('fixed_schema', [])
                 if lineage.written_by(a, self._schema_node, 'schema')}
      first = lineage.blessed_model_ids(input_dict['model_blessing'], newest_first=False)[0]
      in_run = sorted(lineage.run_artifact_ids(store, first) & set(schemas))
      if in_run:
        result['fixed_schema'] = [schemas[in_run[-1]]]
    return result
