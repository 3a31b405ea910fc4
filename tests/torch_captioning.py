"""The image captioner (CNN encoder + RNN/LSTM decoder of ``models.captioning``) written with
torch.nn: the same parameter names, so ``load_state_dict`` of our state dict gives the same
function.  Used by tests/test_captioning_torch.py and benchmarks/bench_captioning.py."""
from __future__ import annotations

import torch
import torch.nn.functional as TF


class TorchCNNEncoder(torch.nn.Module):
    """conv3x3 -> BatchNorm -> ReLU -> max-pool per block; flatten -> Linear -> ReLU, and the
    attribute head on the flattened map (``CNNEncoder(tokens=False)``)."""

    def __init__(self, in_channels, image_size, channels, feature_dim, attribute_slots=0,
                 attribute_classes=0):
        super().__init__()
        layers, c_in = [], in_channels
        for c in channels:
            layers += [torch.nn.Conv2d(c_in, c, 3, padding=1), torch.nn.BatchNorm2d(c),
                       torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
            c_in = c
        self.features = torch.nn.Sequential(*layers)
        grid = image_size // 2 ** len(channels)
        self.proj = torch.nn.Linear(c_in * grid * grid, feature_dim)
        self.slots, self.classes = attribute_slots, attribute_classes
        if attribute_slots:
            self.attribute_head = torch.nn.Linear(c_in * grid * grid,
                                                  attribute_slots * attribute_classes)

    def encode(self, images):
        flat = self.features(images).flatten(1)
        scores = None
        if self.slots:
            scores = self.attribute_head(flat).reshape(-1, self.slots, self.classes)
        return torch.relu(self.proj(flat)), scores


class TorchCaptioningRNN(torch.nn.Module):
    """``CaptioningRNN`` in torch.nn: h0 = Linear(features) (tanh of it for the vanilla RNN;
    c0 = Linear(features) for the LSTM), one-layer RNN/LSTM,
    output Linear; loss = cross-entropy over targets != <NULL> (id ``null``)."""

    def __init__(self, vocab_size, feature_dim, wordvec_dim, hidden_dim, cell="lstm", null=0):
        super().__init__()
        self.cell, self.null, self.vocab_size = cell, null, vocab_size
        self.feature_proj = torch.nn.Linear(feature_dim, hidden_dim)
        if cell == "lstm":
            self.cell_proj = torch.nn.Linear(feature_dim, hidden_dim)
        else:
            self.state_norm = torch.nn.LayerNorm(hidden_dim)
        self.embed = torch.nn.Embedding(vocab_size, wordvec_dim)
        core = torch.nn.LSTM if cell == "lstm" else torch.nn.RNN
        self.core = core(wordvec_dim, hidden_dim, batch_first=True)
        self.output = torch.nn.Linear(hidden_dim, vocab_size)

    def loss(self, features, captions):
        h0 = self.feature_proj(features).unsqueeze(0)
        state = (h0, self.cell_proj(features).unsqueeze(0)) if self.cell == "lstm" else \
            torch.tanh(self.state_norm(h0))
        out, _ = self.core(self.embed(captions[:, :-1]), state)
        scores = self.output(out)
        return TF.cross_entropy(scores.reshape(-1, self.vocab_size),
                                captions[:, 1:].reshape(-1), ignore_index=self.null)


class TorchImageCaptioner(torch.nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def loss(self, images, captions, attributes=None, attribute_weight=1.0):
        features, scores = self.encoder.encode(images)
        loss = self.decoder.loss(features, captions)
        if attributes is not None and scores is not None:
            loss = loss + attribute_weight * TF.cross_entropy(
                scores.reshape(-1, scores.shape[-1]), attributes.reshape(-1))
        return loss


def torch_twin(config):
    """The torch twin of ``models.captioning.training.build_captioner(config)`` (RNN/LSTM)."""
    m = config["model_config"]
    encoder = TorchCNNEncoder(3, int(config["data"]["image_size"]), m["channels"],
                              int(m["feature_dim"]), int(m.get("attribute_slots", 0)),
                              int(m.get("attribute_classes", 0)))
    decoder = TorchCaptioningRNN(len(config["vocab"]), int(m["feature_dim"]),
                                 int(m["wordvec_dim"]), int(m["hidden_dim"]), m["decoder"],
                                 null=config["vocab"].index("<NULL>"))
    return TorchImageCaptioner(encoder, decoder)


def copy_weights(ours, theirs):
    """Load our model's state dict (same names) into the torch twin."""
    state = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
