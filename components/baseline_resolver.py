"""Resolver strategy for the Evaluator's baseline: the latest blessed model other than the candidate.

TFX's LatestBlessedModelStrategy would hand an unchanged re-run its own (cached, already blessed) model
as the baseline. That changes the Evaluator's inputs, so Evaluator, smoke test and Pusher run again for
nothing. Excluding the candidate keeps an unchanged re-run fully cached, and a run on new data still
compares against the previous blessed model.
"""
from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver

_BLESSED = 'blessed'
_MODEL_ID = 'current_model_id'


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
  """Inputs `model`, `model_blessing` (all of the pipeline's) and `candidate` (the Trainer's output)."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                        ) -> Optional[Dict[str, List[types.Artifact]]]:
    del store
    candidate_ids = {a.id for a in input_dict.get('candidate', [])}
    blessings = {b.get_int_custom_property(_MODEL_ID): b for b in input_dict.get('model_blessing', [])
                 if b.get_int_custom_property(_BLESSED) == 1}
    result = {'model': [], 'model_blessing': [], 'candidate': list(input_dict.get('candidate', []))}
    for model in sorted(input_dict.get('model', []), key=lambda a: a.id, reverse=True):
      if model.id not in candidate_ids and model.id in blessings:
        result['model'], result['model_blessing'] = [model], [blessings[model.id]]
        break
    return result
