"""Passage views: which texts a passage is also found by, and how they re-score kNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer import search
from indexer.passages import MAX_EXTRA_VIEWS, embedding_text, embedding_views, passages_for
from indexer.search import nearest
from indexer.store.base import FilingRecord, Filters
from indexer.store.embedded import EmbeddedStore

DIMS = 384

FILING = {
    "title": "测试县司法局部门预算绩效目标",
    "province": "河北省",
    "year": 2024,
    "department": "测试县司法局",
    "projects": [
        {
            "name": "社区矫正经费",
            "amount_wan": 12.0,
            "purpose": "用于社区矫正对象教育培训。用于电子定位设备租赁。",
            "goal": "确保社区矫正对象不脱管",
            "indicators": [
                {
                    "level1": "产出指标",
                    "level2": "成本指标",
                    "name": "每名社区矫正对象培训费用",
                    "description": "培训、教材等费用",
                    "value": "≤350元",
                },
                {
                    "level1": "满意度指标",
                    "level2": "服务对象满意度指标",
                    "name": "",
                    "value": "≥95%",
                },
            ],
        }
    ],
    "sections": [
        {"heading": "一、总体目标", "text": "提升司法行政水平。加强人民调解工作！短句。"},
        {"heading": "二、其他", "text": "只有一句话的段落。"},
    ],
}


def by_kind() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for passage in passages_for(FILING, "d1"):
        out.setdefault(passage["kind"], []).append(passage)
    return out


def test_an_indicator_is_also_its_bare_name_and_description() -> None:
    named, unnamed = by_kind()["indicator"]
    assert embedding_views(named) == ["每名社区矫正对象培训费用（培训、教材等费用）"]
    assert embedding_views(unnamed) == []  # no name: nothing shorter than its text


def test_a_project_is_also_its_name_and_the_sentences_of_purpose_and_goal() -> None:
    (project,) = by_kind()["project"]
    # the purpose has two sentences; the goal has one, which is not a view of its own
    assert embedding_views(project) == [
        "社区矫正经费",
        "用于社区矫正对象教育培训。",
        "用于电子定位设备租赁。",
    ]


def test_a_paragraph_is_also_each_of_its_sentences_when_it_has_several() -> None:
    several, single = by_kind()["narrative"]
    # 短句。 is under MIN_SENTENCE_CHARS: too short to stand for the paragraph
    assert embedding_views(several) == ["提升司法行政水平。", "加强人民调解工作！"]
    assert embedding_views(single) == []


def test_views_are_capped_and_never_repeat_the_main_text() -> None:
    text = "".join(f"第{i}项工作按期完成。" for i in range(3 * MAX_EXTRA_VIEWS))
    passage = {"kind": "narrative", "text": text}
    views = embedding_views(passage)
    assert len(views) == MAX_EXTRA_VIEWS and views[0] == "第0项工作按期完成。"
    assert embedding_text(passage) not in views
    assert len(embedding_text({"text": "字" * 10**6})) < 10**4  # the encoder reads 512 tokens


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@pytest.fixture
def store(tmp_path: Path):
    """200 passages with random vectors; one province per parity of the index."""
    rng = np.random.default_rng(11)
    query = unit(rng.standard_normal(DIMS))
    vectors = np.stack([unit(rng.standard_normal(DIMS)) for _ in range(200)])
    sims = vectors @ query
    order = list(np.argsort(-sims))
    passages = [
        {
            "id": f"p{i:03d}",
            "doc_id": "d",
            "kind": "indicator",
            "text": "x",
            "tokens": "x",
            "province": "甲" if i % 2 else "乙",
        }
        for i in range(200)
    ]
    views = [np.zeros((0, DIMS), np.float32) for _ in range(200)]
    mid, deep = int(order[80]), int(order[150])  # main rank 81 (inside the depth), 151
    views[mid] = views[deep] = query[None, :]  # each has a view that is the query itself
    made = EmbeddedStore(tmp_path / "store")
    made.write_filing(FilingRecord("d", "d.txt", "h", {}), passages, vectors, views)
    yield made, query, f"p{mid:03d}", f"p{deep:03d}"
    made.close()


def test_a_view_lifts_a_candidate_of_the_depth_to_the_top(store) -> None:
    made, query, mid, deep = store
    hits = nearest(made, query, Filters())
    assert hits[0][0] == mid and hits[0][1] == pytest.approx(1.0, abs=2e-3)
    # views re-score the main vectors' top RESCORE_DEPTH; they find nothing beyond it
    assert search.RESCORE_DEPTH < 150 and deep not in {pid for pid, _ in hits}
    assert len(hits) == search.SEMANTIC_POOL


def test_a_filter_narrows_the_re_scored_pool_without_refilling_it(store) -> None:
    made, query, mid, _ = store
    unfiltered = nearest(made, query, Filters())
    province = made.get_passages([mid])[0]["province"]
    within = nearest(made, query, Filters({"province": (province,)}))
    passing = {
        p["id"]
        for p in made.get_passages([pid for pid, _ in unfiltered])
        if p["province"] == province
    }
    assert [pid for pid, _ in within] == [pid for pid, _ in unfiltered if pid in passing]
    assert within[0][0] == mid
