"""The one list of topics shared by the question bank, the exercises and the report.

Slugs are what YAML files use; labels are what people read. A misspelt slug is refused with the closest
real one, so "behavioral" or "data_loading" never quietly starts a topic of its own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    slug: str
    en: str
    zh: str


TOPICS: tuple[Topic, ...] = (
    Topic("tensors", "Tensors and fundamentals", "张量与基础"),
    Topic("autograd", "Autograd", "自动求导"),
    Topic("data-loading", "Data loading", "数据加载"),
    Topic("model-building", "Model building", "模型构建"),
    Topic("training-loop", "Training loop", "训练循环"),
    Topic("optimizers", "Optimizers and schedulers", "优化器与学习率调度"),
    Topic("gpu", "GPU and devices", "GPU 与设备"),
    Topic("saving-loading", "Saving and loading", "保存与加载"),
    Topic("evaluation", "Evaluation", "模型评估"),
    Topic("deployment", "Deployment", "部署"),
    Topic("debugging", "Debugging", "调试"),
    Topic("transformers", "Transformers and LLMs", "Transformer 与大模型"),
    Topic("distributed", "Distributed training", "分布式训练"),
    Topic("performance", "Performance and memory", "性能与内存"),
    Topic("behavioural", "Behavioural", "行为面试"),
)

TOPIC_SLUGS: tuple[str, ...] = tuple(topic.slug for topic in TOPICS)
_BY_SLUG = {topic.slug: topic for topic in TOPICS}


def get(slug: str) -> Topic:
    return _BY_SLUG[slug]


def label(slug: str, lang: str = "en") -> str:
    topic = _BY_SLUG.get(slug)
    if topic is None:
        return slug
    return topic.zh if lang == "zh" else topic.en


def closest(name: str) -> str | None:
    """The real slug a misspelling most likely meant, or None when nothing is close."""
    normalised = name.strip().lower().replace("_", "-").replace(" ", "-")
    if normalised in _BY_SLUG:
        return normalised
    if normalised.startswith("behavior"):
        return "behavioural"
    matches = difflib.get_close_matches(normalised, TOPIC_SLUGS, n=1, cutoff=0.6)
    return matches[0] if matches else None
