"""The plain implementations the benchmark compares against (eager fp32, NCHW, default Adam, no Lightning),
written as the originals run: the CycleGAN authors' ``optimize_parameters``, the PyTorch ``fast_neural_style``
example's loop (torchvision's VGG16 up to relu4_3), a textbook autoencoder step.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from stylenorm.networks import ConvNormActAutoencoder, PatchDiscriminator, ResnetGenerator, TransformerNet
from stylenorm.nn.init import init_weights_normal as init_normal  # weights ~ N(0, 0.02): setup, not timed


def optimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


class ReferenceCycleGAN:
    """One CycleGAN iteration: both generators, then both discriminators (LSGAN, cycle, identity)."""

    def __init__(self, device: torch.device, ngf: int = 64, n_blocks: int = 9, lambda_cycle: float = 10.0):
        # A->B, B->A (the original's names)
        self.G_A, self.G_B = (init_normal(ResnetGenerator(ngf=ngf, n_blocks=n_blocks)).to(device) for _ in range(2))
        self.D_A, self.D_B = (init_normal(PatchDiscriminator()).to(device) for _ in range(2))
        self.lambda_cycle = lambda_cycle
        betas = (0.5, 0.999)
        self.opt_G = torch.optim.Adam(itertools.chain(self.G_A.parameters(), self.G_B.parameters()), 2e-4, betas=betas)
        self.opt_D = torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), 2e-4, betas=betas)

    @staticmethod
    def gan_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(prediction, torch.full_like(prediction, float(real)))

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> torch.Tensor:
        fake_B, fake_A = self.G_A(real_A), self.G_B(real_B)
        rec_A, rec_B = self.G_B(fake_B), self.G_A(fake_A)
        self.D_A.requires_grad_(False)
        self.D_B.requires_grad_(False)
        loss_G = (
            self.gan_loss(self.D_A(fake_B), True)
            + self.gan_loss(self.D_B(fake_A), True)
            + self.lambda_cycle * F.l1_loss(rec_A, real_A)
            + self.lambda_cycle * F.l1_loss(rec_B, real_B)
            + 0.5 * self.lambda_cycle * F.l1_loss(self.G_A(real_B), real_B)
            + 0.5 * self.lambda_cycle * F.l1_loss(self.G_B(real_A), real_A)
        )
        optimize(self.opt_G, loss_G)
        self.D_A.requires_grad_(True)
        self.D_B.requires_grad_(True)
        loss_D = 0.5 * (self.gan_loss(self.D_A(real_B), True) + self.gan_loss(self.D_A(fake_B.detach()), False))
        loss_D = loss_D + 0.5 * (
            self.gan_loss(self.D_B(real_A), True) + self.gan_loss(self.D_B(fake_A.detach()), False)
        )
        optimize(self.opt_D, loss_D)
        return loss_G.detach()


def gram(features: torch.Tensor) -> torch.Tensor:
    n, c, h, w = features.shape
    flat = features.view(n, c, h * w)
    return flat.bmm(flat.transpose(1, 2)) / (c * h * w)


class ReferenceStyleTransfer:
    """One fast-neural-style training step: TransformerNet, VGG16 content + style (Gram) loss, Adam."""

    LAYERS = (3, 8, 15, 22)  # relu1_2, relu2_2, relu3_3, relu4_3 in torchvision's features

    def __init__(self, device: torch.device, style_size: int = 256):
        self.transformer = TransformerNet().to(device)
        # torchvision's VGG16 up to relu4_3, randomly initialised: the benchmark never downloads.
        self.vgg = torchvision.models.vgg16(weights=None).features[:23].eval().requires_grad_(False).to(device)
        self.optimizer = torch.optim.Adam(self.transformer.parameters(), 1e-3)
        self.mean = torch.tensor((0.485, 0.456, 0.406), device=device).view(1, 3, 1, 1)  # ImageNet's
        self.std = torch.tensor((0.229, 0.224, 0.225), device=device).view(1, 3, 1, 1)
        with torch.no_grad():
            style = torch.rand(1, 3, style_size, style_size, device=device)
            self.style_grams = [gram(f) for f in self.features(style)]

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = (images - self.mean) / self.std
        out = []
        for index, layer in enumerate(self.vgg):
            x = layer(x)
            if index in self.LAYERS:
                out.append(x)
        return out

    def step(self, content: torch.Tensor) -> torch.Tensor:
        stylized = self.transformer(content * 255.0) / 255.0
        features_y = self.features(stylized)
        with torch.no_grad():
            features_x = self.features(content)
        content_loss = 1e5 * F.mse_loss(features_y[1], features_x[1])
        style_loss = 1e10 * sum(
            F.mse_loss(gram(fy), gs.expand(fy.shape[0], -1, -1))
            for fy, gs in zip(features_y, self.style_grams, strict=True)
        )
        return optimize(self.optimizer, content_loss + style_loss)


class ReferenceAutoencoder:
    """One reconstruction step of the Conv-Norm-Act autoencoder: L1 loss, Adam(1e-3)."""

    def __init__(self, device: torch.device):
        self.network = ConvNormActAutoencoder().to(device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), 1e-3)

    def step(self, images: torch.Tensor) -> torch.Tensor:
        return optimize(self.optimizer, F.l1_loss(self.network(images), images))


def reference_load(path, load_size: int, crop: int) -> torch.Tensor:
    """The CycleGAN data pipeline by hand: PIL decode, bicubic resize, random crop, flip, to tensor."""
    image = Image.open(path).convert("RGB").resize((load_size, load_size), Image.BICUBIC)
    top, left = torch.randint(load_size - crop + 1, (2,)).tolist()
    image = image.crop((left, top, left + crop, top + crop))
    if torch.rand(()) < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return torchvision.transforms.functional.to_tensor(image)
