"""A Whisper that trains on its utterance's length but runs unchanged, with the same numbers, on faster-whisper's
30 s input.

faster-whisper always zero-pads the log-mel features to 3000 frames (1500 encoder positions), whatever the
utterance length (`pad_or_trim` in faster_whisper/transcribe.py; CTranslate2 requires 1500 positions), so a
short chunk_length in preprocessor_config.json does not make the model cheaper. Training on 1500 positions per
2 s question would spend ~93 % of the time on padding. Two exact identities avoid that:

* Padding frames are all zero, so every encoder position that sees only padding gets the same convolution
  output. With no encoder position table (all zeros, the default `window=0`), those positions carry identical
  vectors through every layer (identical queries see identical keys and values), wherever the speech ends. The
  1500 - n copies are one key with `log(1500 - n)` added to its attention logit: the encoder runs on the n
  positions that see speech plus one, and the decoder's cross-attention uses the same bias. Without positions
  the encoder hears a set of local sounds (the convolutions span 50 ms around each position) and the decoder
  reads words from it; the closed demo vocabulary needs no more, and any length up to 30 s works.
  (`window=N` keeps N sinusoidal positions instead, at a fixed N + 1 positions per example.)
* Only a few dozen of Whisper's 51,865 output rows are ever targets. Every other row is kept equal to one
  shared vector `rest`, so the softmax over the full vocabulary is the softmax over the used rows plus one
  logit `h . rest + log(count)`. The full table is written out at export.

`CompactWhisper.to_hf()` builds the equivalent `WhisperForConditionalGeneration` (state dict names match);
`check_equivalence()` compares the two on real features padded to 3000 frames.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

SOURCE_POSITIONS = 1500          # what CTranslate2 / faster-whisper expect (3000 mel frames)
TEXT_IDS = 50256                 # ids below are text tokens in Whisper's multilingual layout
UNSURE = -2                      # a target meaning "any word, all equally likely"


@dataclass(frozen=True)
class Shape:
    d_model: int = 96
    encoder_layers: int = 3
    decoder_layers: int = 2
    heads: int = 4
    ffn: int = 384
    n_mels: int = 80
    window: int = 0                     # 0: no encoder positions (any length); N: N sinusoidal positions
    vocab_size: int = 51865
    target_positions: int = 448

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoids(length: int, channels: int, max_timescale: float = 10000) -> torch.Tensor:
    """Whisper's sinusoidal position table."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2, dtype=torch.float32))
    scaled = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cat([scaled.sin(), scaled.cos()], dim=1)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        source = x if source is None else source
        q, k, v = self._split(self.q_proj(x)), self._split(self.k_proj(source)), self._split(self.v_proj(source))
        mask = None
        if bias is not None:
            mask = bias.to(q.dtype)[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None)
        b, h, n, hd = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * hd))


class EncoderLayer(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.self_attn = Attention(s.d_model, s.heads)
        self.self_attn_layer_norm = nn.LayerNorm(s.d_model)
        self.fc1 = nn.Linear(s.d_model, s.ffn)
        self.fc2 = nn.Linear(s.ffn, s.d_model)
        self.final_layer_norm = nn.LayerNorm(s.d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), bias=bias)
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class DecoderLayer(nn.Module):
    def __init__(self, s: Shape) -> None:
        super().__init__()
        self.self_attn = Attention(s.d_model, s.heads)
        self.self_attn_layer_norm = nn.LayerNorm(s.d_model)
        self.encoder_attn = Attention(s.d_model, s.heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(s.d_model)
        self.fc1 = nn.Linear(s.d_model, s.ffn)
        self.fc2 = nn.Linear(s.ffn, s.d_model)
        self.final_layer_norm = nn.LayerNorm(s.d_model)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.self_attn_layer_norm(x), causal=True)
        x = x + self.encoder_attn(self.encoder_attn_layer_norm(x), source=memory, bias=bias)
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class CompactWhisper(nn.Module):
    """Whisper (HF layout) that computes exactly what the 1500-position model computes, on a few positions.

    `shape.window == 0` (the default): no encoder position table (all zeros). Every position after the speech
    is then the same, wherever the speech ends, so a batch runs on its longest utterance's positions plus one
    stand-in for the padding, and the exported model takes utterances of any length up to Whisper's 30 s.
    `shape.window > 0`: sinusoidal positions for the first `window` positions (zero after), fixed
    `window + 1` positions in training, speech limited to 2 x window - 2 frames.
    `used_ids`: the vocabulary ids that get their own output row (targets and prompt tokens); every other id
    shares the row `rest`.
    """

    def __init__(self, shape: Shape, used_ids: list[int]) -> None:
        super().__init__()
        s = self.shape = shape
        self.used_ids = list(used_ids)
        self.conv1 = nn.Conv1d(s.n_mels, s.d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(s.d_model, s.d_model, 3, stride=2, padding=1)
        positions = torch.zeros(s.window + 1, s.d_model)
        if s.window:
            positions[:s.window] = sinusoids(s.window, s.d_model)   # positions >= window share a zero embedding
        self.register_buffer("encoder_positions", positions, persistent=False)
        self.encoder_layers = nn.ModuleList(EncoderLayer(s) for _ in range(s.encoder_layers))
        self.encoder_norm = nn.LayerNorm(s.d_model)
        self.embed_used = nn.Embedding(len(self.used_ids), s.d_model)
        self.rest = nn.Parameter(torch.zeros(s.d_model))
        self.decoder_positions = nn.Embedding(s.target_positions, s.d_model)
        self.decoder_layers = nn.ModuleList(DecoderLayer(s) for _ in range(s.decoder_layers))
        self.decoder_norm = nn.LayerNorm(s.d_model)
        self.register_buffer("rest_bias", torch.tensor(math.log(s.vocab_size - len(self.used_ids))), persistent=False)
        # 1 = the exact model. Training starts lower (the padding counted as fewer copies) so that attention
        # learns to find the speech before it must also learn to look past 1,400 padding positions.
        self.padding_weight = 1.0
        index = torch.full((s.vocab_size,), -1, dtype=torch.long)
        index[torch.tensor(self.used_ids)] = torch.arange(len(self.used_ids))
        self.register_buffer("row_of", index, persistent=False)
        self.register_buffer("word_rows", torch.tensor([r for r, i in enumerate(self.used_ids) if i < TEXT_IDS]),
                             persistent=False)
        # Training aid only (not exported): CTC over the used rows on the encoder output, which teaches the
        # encoder where the words are long before the decoder's cross-attention finds them.
        self.ctc_head = nn.Linear(s.d_model, len(self.used_ids) + 1)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Conv1d):
            # He init: the speech must be as loud as the positional table from the first step; with Whisper's
            # std 0.02 it starts ~50x weaker and the model learns the sentence prior long before it listens.
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    @staticmethod
    def speech_positions(frames: torch.Tensor | int):
        """Encoder positions that see any of the first `frames` mel frames (the rest see only padding)."""
        return (frames + 3) // 2

    def input_frames(self, speech_frames: int) -> int:
        """Mel frames to feed `encode` for a batch whose longest speech has `speech_frames` frames."""
        if self.shape.window:
            return 2 * self.shape.window + 2
        return 2 * int(self.speech_positions(speech_frames)) + 2

    def encode(self, mel: torch.Tensor, speech_frames: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_mels, T) features, zero after each utterance's `speech_frames` -> (memory (B, S, d), key bias (B, S)).

        The last memory row stands for all 1500 - (S - 1) padding positions (log of their count in `bias`)."""
        s = self.shape
        b, _, t = mel.shape
        if s.window:
            assert t == 2 * s.window + 2, f"expected {2 * s.window + 2} frames, got {t}"
            bias = torch.zeros(b, s.window + 1)
            bias[:, -1] = self.padding_weight * math.log(SOURCE_POSITIONS - s.window)
        else:
            n = t // 2 - 1
            assert speech_frames is not None and t == 2 * n + 2
            used = self.speech_positions(speech_frames.clamp(max=2 * n - 2))
            assert bool((used <= n).all())
            j = torch.arange(n + 1)[None, :]
            bias = torch.where(j < used[:, None], 0.0, float("-inf"))
            bias[:, -1] = self.padding_weight * torch.log((SOURCE_POSITIONS - used).float())
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        if s.window:
            x = x + self.encoder_positions
        for layer in self.encoder_layers:
            x = layer(x, bias)
        return self.encoder_norm(x), bias

    def decode(self, tokens: torch.Tensor, encoded: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(B, L) vocabulary ids -> (B, L, used + 1) logits: the used rows, then all other rows as one."""
        memory, bias = encoded
        rows = self.row_of[tokens]
        assert bool((rows >= 0).all()), "a prompt token without its own row"
        x = self.embed_used(rows) + self.decoder_positions.weight[:tokens.shape[1]]
        for layer in self.decoder_layers:
            x = layer(x, memory, bias)
        h = self.decoder_norm(x)
        used = h @ self.embed_used.weight.T
        rest = (h @ self.rest)[..., None] + self.rest_bias
        return torch.cat([used, rest], dim=-1)

    def loss(self, mel: torch.Tensor, speech_frames: torch.Tensor, tokens: torch.Tensor, targets: torch.Tensor,
             ctc: tuple[torch.Tensor, ...] | None = None,
             ctc_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, decoder cross-entropy). The cross-entropy is over the full vocabulary; `targets` are
        vocabulary ids, -100 = no loss here, UNSURE = a uniform target over the words (so that on background
        noise the first word is a guess and the guard's avg_logprob test drops it). `ctc` = (word ids padded,
        their lengths[, which rows count]) adds `ctc_weight` x the CTC loss of the encoder (each row's loss over
        its length, averaged over the rows that count: all by default)."""
        encoded = self.encode(mel, speech_frames)
        memory = encoded[0]
        logp = self.decode(tokens, encoded).float().log_softmax(-1)
        hard, unsure = targets >= 0, targets == UNSURE
        rows = torch.where(hard, self.row_of[targets.clamp(min=0)], 0)
        nll = -logp.gather(-1, rows[..., None])[..., 0][hard].sum()
        nll = nll - logp[unsure][:, self.word_rows].mean(-1).sum()
        ce = nll / (hard.sum() + unsure.sum()).clamp(min=1)
        if ctc is None or ctc_weight <= 0:
            return ce, ce.detach()
        words, lengths = ctc[0], ctc[1]
        keep = ctc[2].float() if len(ctc) > 2 else torch.ones(len(lengths))
        positions = self.speech_positions(speech_frames).clamp(max=memory.shape[1] - 1)
        log_probs = self.ctc_head(memory[:, :-1]).log_softmax(-1).transpose(0, 1)
        rows = F.ctc_loss(log_probs, self.row_of[words], positions, lengths, blank=len(self.used_ids),
                          reduction="none", zero_infinity=True)
        aux = (rows / lengths.clamp(min=1) * keep).sum() / keep.sum().clamp(min=1)   # = reduction "mean" if all
        return ce + ctc_weight * aux, ce.detach()

    @torch.no_grad()
    def greedy(self, mel: torch.Tensor, speech_frames: torch.Tensor, prompt: list[int], eot: int,
               max_new: int = 16) -> list[list[int] | None]:
        """Greedy decoding after `prompt` (for monitoring; the shipped model decodes in CTranslate2).
        None for a row whose best next token was one of the shared "rest" rows."""
        memory = self.encode(mel, speech_frames)
        tokens = torch.tensor([prompt] * mel.shape[0])
        done = torch.zeros(mel.shape[0], dtype=torch.bool)
        lost = torch.zeros(mel.shape[0], dtype=torch.bool)
        used = torch.tensor(self.used_ids + [-1])
        for _ in range(max_new):
            nxt = used[self.decode(tokens, memory)[:, -1].argmax(-1)]
            lost |= (nxt < 0) & ~done
            nxt = torch.where(done | (nxt < 0), torch.full_like(nxt, eot), nxt)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            done |= nxt == eot
            if bool(done.all()):
                break
        out: list[list[int] | None] = []
        for row, bad in zip(tokens[:, len(prompt):].tolist(), lost.tolist()):
            out.append(None if bad else (row[:row.index(eot)] if eot in row else row))
        return out

    # ---- export --------------------------------------------------------------------------------------------

    def hf_config(self, tokens: dict[str, int]):
        from transformers import WhisperConfig
        s = self.shape
        return WhisperConfig(
            vocab_size=s.vocab_size, num_mel_bins=s.n_mels, d_model=s.d_model, encoder_layers=s.encoder_layers,
            decoder_layers=s.decoder_layers, encoder_attention_heads=s.heads, decoder_attention_heads=s.heads,
            encoder_ffn_dim=s.ffn, decoder_ffn_dim=s.ffn, max_source_positions=SOURCE_POSITIONS,
            max_target_positions=s.target_positions, pad_token_id=tokens["<|endoftext|>"],
            bos_token_id=tokens["<|endoftext|>"], eos_token_id=tokens["<|endoftext|>"],
            decoder_start_token_id=tokens["<|startoftranscript|>"], suppress_tokens=[],
            begin_suppress_tokens=[tokens["<|endoftext|>"]], activation_function="gelu", dropout=0.0)

    def hf_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights under WhisperForConditionalGeneration's names, full tables expanded."""
        s = self.shape
        out: dict[str, torch.Tensor] = {}
        enc, dec = "model.encoder.", "model.decoder."
        for name in ("conv1", "conv2"):
            for p in ("weight", "bias"):
                out[f"{enc}{name}.{p}"] = getattr(self, name).state_dict()[p]
        positions = torch.zeros(SOURCE_POSITIONS, s.d_model)
        if s.window:
            positions[:s.window] = self.encoder_positions[:s.window]
        out[f"{enc}embed_positions.weight"] = positions
        for i, layer in enumerate(self.encoder_layers):
            for k, v in layer.state_dict().items():
                out[f"{enc}layers.{i}.{k}"] = v
        for p in ("weight", "bias"):
            out[f"{enc}layer_norm.{p}"] = self.encoder_norm.state_dict()[p]
        table = self.rest.detach()[None, :].repeat(s.vocab_size, 1)
        table[torch.tensor(self.used_ids)] = self.embed_used.weight.detach()
        out[f"{dec}embed_tokens.weight"] = table
        out["proj_out.weight"] = table
        out[f"{dec}embed_positions.weight"] = self.decoder_positions.weight.detach()
        for i, layer in enumerate(self.decoder_layers):
            for k, v in layer.state_dict().items():
                out[f"{dec}layers.{i}.{k}"] = v
        for p in ("weight", "bias"):
            out[f"{dec}layer_norm.{p}"] = self.decoder_norm.state_dict()[p]
        return {k: v.detach().clone().float().contiguous() for k, v in out.items()}

    def to_hf(self, tokens: dict[str, int]):
        """The equivalent transformers WhisperForConditionalGeneration (float32, eval mode)."""
        from transformers import WhisperForConditionalGeneration
        model = WhisperForConditionalGeneration(self.hf_config(tokens)).eval()
        missing, unexpected = model.load_state_dict(self.hf_state_dict(), strict=False)
        missing = [k for k in missing if k != "proj_out.weight"]       # tied to embed_tokens
        if missing or unexpected:
            raise RuntimeError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        return model


@torch.no_grad()
def check_equivalence(model: CompactWhisper, hf_model, features: torch.Tensor, tokens: torch.Tensor) -> float:
    """Max |log-prob difference| between the compact model and the HF model on 3000 frames, for (n_mels, frames)
    `features` of one utterance (as faster-whisper computes them, before padding) and (1, L) `tokens`."""
    model.eval()
    frames = features.shape[-1]
    mel = torch.zeros(1, features.shape[0], model.input_frames(frames))
    mel[0, :, :frames] = features
    full = torch.zeros(1, features.shape[0], 2 * SOURCE_POSITIONS)
    full[0, :, :frames] = features
    ref = hf_model(input_features=full, decoder_input_ids=tokens).logits.log_softmax(-1)
    logits = model.decode(tokens, model.encode(mel, torch.tensor([frames])))
    used = torch.tensor(model.used_ids)
    mine = logits.log_softmax(-1)[..., :-1]
    diff = (ref[..., used] - mine).abs().max().item()
    rest_ids = torch.ones(model.shape.vocab_size, dtype=torch.bool)
    rest_ids[used] = False
    rest = ref[..., rest_ids]
    rest_mine = logits.log_softmax(-1)[..., -1:] - model.rest_bias
    return max(diff, (rest - rest_mine).abs().max().item())
