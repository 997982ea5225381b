"""Python API of the contested-questions project (docs/python_api.md).

    import contested_questions as cq
    run = cq.generate("smollm2-135m-instruct", sample=1, max_tokens=40)
    judged = cq.annotate("smollm2-135m-instruct", run.out)
    frame = cq.load_results(judged.out)
"""

from contested_questions.api import (
    Run,
    annotate,
    annotate_overton,
    collect,
    generate,
    load_results,
    overton_responses,
)

__all__ = ["Run", "annotate", "annotate_overton", "collect", "generate", "load_results",
           "overton_responses"]
