"""What a page needs to describe the stand-ins: sizes, training data and the metrics they were trained to."""

from __future__ import annotations

from micourse.standins.specs import STANDINS
from micourse.standins.weights import WEIGHTS_DIR, read_metadata


def standin_table() -> list[dict[str, object]]:
    """One row per stand-in, read from the committed weight files (no model is loaded)."""
    rows = []
    for name, spec in STANDINS.items():
        path = WEIGHTS_DIR / spec.weights_file
        cfg, meta = read_metadata(path)
        n_layers, d_model, d_mlp = cfg["n_layers"], cfg["d_model"], cfg.get("d_mlp") or 0
        per_layer = 4 * d_model * cfg["n_heads"] * cfg["d_head"] + (0 if cfg.get("attn_only") else 2 * d_model * d_mlp)
        rows.append(
            {
                "name": name,
                "layers": n_layers,
                "d_model": d_model,
                "heads": cfg["n_heads"],
                "d_mlp": d_mlp if not cfg.get("attn_only") else "none (attention only)",
                "non-embedding parameters": n_layers * per_layer,
                "file size (MB)": round(path.stat().st_size / 1e6, 1),
                "training steps": meta.get("steps"),
                "training time (s, CPU)": meta.get("train_seconds"),
                "training data": meta.get("data"),
                "command": f"python -m micourse.standins.train {name}",
            }
        )
    return rows
