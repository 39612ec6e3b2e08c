"""CycleGAN training (Zhu et al. 2017) with the original code's defaults: both generators, then both discriminators
(on a history pool of fakes), per batch. The objective: docs/modules.md.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from stylenorm.losses import GANLoss, cycle_consistency_loss, identity_loss
from stylenorm.nn.init import init_weights_normal
from stylenorm.tasks.base import ImageTranslationTask
from stylenorm.tasks.image_pool import ImagePool
from stylenorm.tasks.probes import train_eval_gap


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], the CycleGAN networks' range."""
    return images * 2 - 1


class CycleGANTask(ImageTranslationTask):
    """Two ResNet generators, two PatchGAN discriminators; args mirror ``configs/model/cyclegan.yaml``."""

    optimizer_steps_per_batch = 2  # G then D in every training_step
    hparam_metrics = (
        "val/psnr_AtoB",
        "val/psnr_identity_baseline",
        "val/ssim_AtoB",
        "val/cycle_l1",
        "val/bn_train_eval_gap",
    )
    main_network_name = "G_AB"
    compiled_module_names = ("G_AB", "G_BA", "D_A", "D_B")

    def __init__(
        self,
        generator: dict[str, Any] | None = None,
        discriminator: dict[str, Any] | None = None,
        name: str = "cyclegan",
        gan_mode: str = "lsgan",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        lr: float = 2e-4,
        beta1: float = 0.5,
        beta2: float = 0.999,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        init_gain: float = 0.02,
        **common: Any,
    ):
        super().__init__(**common)
        for network in (self.G_AB, self.G_BA, self.D_A, self.D_B):
            init_weights_normal(network, init_gain)
        self.gan_loss = GANLoss(gan_mode)
        self.pool_A = ImagePool(pool_size)  # fakes of domain A, for D_A
        self.pool_B = ImagePool(pool_size)
        self.automatic_optimization = False
        self.psnr_AtoB = PeakSignalNoiseRatio(data_range=1.0)
        self.psnr_identity_baseline = PeakSignalNoiseRatio(data_range=1.0)
        self.ssim_AtoB = StructuralSimilarityIndexMeasure(data_range=1.0)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["image_pools"] = {"A": self.pool_A.state_dict(), "B": self.pool_B.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if pools := checkpoint.get("image_pools"):  # checkpoints written before the pools were saved have none
            self.pool_A.load_state_dict(pools["A"])
            self.pool_B.load_state_dict(pools["B"])

    def forward(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Translate [0, 1] images A->B (``G_AB``) or B->A (``G_BA``); output in [0, 1]."""
        generator = self.G_AB if direction == "AtoB" else self.G_BA
        return (generator(to_signed(images)) + 1) / 2

    def configure_optimizers(self):
        hp = self.hparams
        betas = (hp.beta1, hp.beta2)
        opt_g = self.adam([*self.G_AB.parameters(), *self.G_BA.parameters()], lr=hp.lr, betas=betas)
        opt_d = self.adam([*self.D_A.parameters(), *self.D_B.parameters()], lr=hp.lr, betas=betas)

        def linear_decay(epoch: int) -> float:  # the original `linear` policy: 1 for n_epochs, then down to 0
            return 1.0 - max(0, epoch + 1 - hp.n_epochs) / float(hp.n_epochs_decay + 1)

        # "name": LearningRateMonitor's tags, lr-G and lr-D (else lr-Adam and lr-Adam-1)
        return [opt_g, opt_d], [
            {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, linear_decay), "interval": "epoch", "name": name}
            for opt, name in ((opt_g, "lr-G"), (opt_d, "lr-D"))
        ]

    def generator_losses(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
        """All generator terms (weighted) plus the fakes, for one batch in [-1, 1]."""
        hp = self.hparams
        fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        losses = {
            "G_AB_gan": self.gan_loss(self.D_B(fake_B), True),
            "G_BA_gan": self.gan_loss(self.D_A(fake_A), True),
            "cycle_A": hp.lambda_cycle * cycle_consistency_loss(self.G_BA(fake_B), real_A),
            "cycle_B": hp.lambda_cycle * cycle_consistency_loss(self.G_AB(fake_A), real_B),
        }
        if hp.lambda_identity > 0:
            weight = hp.lambda_identity * hp.lambda_cycle
            losses["idt_A"] = weight * identity_loss(self.G_BA(real_A), real_A)
            losses["idt_B"] = weight * identity_loss(self.G_AB(real_B), real_B)
        return losses, fake_A, fake_B

    def discriminator_loss(self, discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """(L_real + L_fake) / 2: halving slows D relative to G (Zhu et al. 2017, section 4)."""
        return 0.5 * (self.gan_loss(discriminator(real), True) + self.gan_loss(discriminator(fake.detach()), False))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        real_A, real_B = to_signed(batch["A"]), to_signed(batch["B"])

        # Generators, with the discriminators frozen so their grads are not computed for nothing.
        self.toggle_optimizer(opt_g)
        g_losses, fake_A, fake_B = self.generator_losses(real_A, real_B)
        loss_g = sum(g_losses.values())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        loss_d_A = self.discriminator_loss(self.D_A, real_A, self.pool_A.query(fake_A))
        loss_d_B = self.discriminator_loss(self.D_B, real_B, self.pool_B.query(fake_B))
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d_A + loss_d_B)
        opt_d.step()

        logs = {f"train/{k}": v.detach() for k, v in g_losses.items()}
        logs.update({"train/G": loss_g.detach(), "train/D_A": loss_d_A.detach(), "train/D_B": loss_d_B.detach()})
        self.log_dict(logs, prog_bar=False, batch_size=real_A.shape[0])
        self.log("train/loss_G", loss_g.detach(), prog_bar=True, batch_size=real_A.shape[0])
        if self.trainer.is_last_batch:
            # The per-epoch learning-rate step, here (not in on_train_epoch_end) so that the checkpoint written
            # after this batch holds it, as Lightning does under automatic optimization.
            for scheduler in self.lr_schedulers():
                scheduler.step()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        real_A, real_B = batch["A"], batch["B"]
        fake_B, fake_A = self(real_A, "AtoB"), self(real_B, "BtoA")
        rec_A, rec_B = self(fake_B, "BtoA"), self(fake_A, "AtoB")
        n = real_A.shape[0]
        cycle = 0.5 * ((rec_A - real_A).abs().mean() + (rec_B - real_B).abs().mean())
        gap = train_eval_gap(self.G_AB, lambda images: self(images, "AtoB"), real_A)
        self.log_val({"cycle_l1": cycle, "bn_train_eval_gap": gap}, n)
        if "A_truth" in batch:  # known-answer data: how close is G_AB(a) to f(a)?
            for name, prediction in (("psnr_AtoB", fake_B), ("psnr_identity_baseline", real_A), ("ssim_AtoB", fake_B)):
                self.log_metric(name, prediction, batch["A_truth"], n)
        self.collect_for_image_grid("val/A_fakeB_recA_B_fakeA_recB", [real_A, fake_B, rec_A, real_B, fake_A, rec_B])
