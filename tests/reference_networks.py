"""Independent re-implementations of the public layouts, used to make "public" state dicts.

Written from the published architectures with the module names of the original code (PyTorch's
fast_neural_style example, junyanz/pytorch-CycleGAN-and-pix2pix), so that their ``state_dict()``
keys are the ones found in the files people download. Inference conventions are the originals':
fast-neural-style takes and returns 0-255, CycleGAN takes and returns [-1, 1].
"""

import torch
from torch import nn


class FnsConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class FnsUpsampleConvLayer(FnsConvLayer):
    def __init__(self, cin, cout, k, stride, upsample):
        super().__init__(cin, cout, k, stride)
        self.upsample = upsample

    def forward(self, x):
        return super().forward(nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample))


class FnsResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = FnsConvLayer(c, c, 3, 1)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = FnsConvLayer(c, c, 3, 1)
        self.in2 = nn.InstanceNorm2d(c, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class FastNeuralStyleNet(nn.Module):
    """The example's TransformerNet (affine instance norm, a bias on every conv)."""

    def __init__(self):
        super().__init__()
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        self.conv1, self.in1 = FnsConvLayer(3, 32, 9, 1), norm(32)
        self.conv2, self.in2 = FnsConvLayer(32, 64, 3, 2), norm(64)
        self.conv3, self.in3 = FnsConvLayer(64, 128, 3, 2), norm(128)
        for i in range(1, 6):
            setattr(self, f"res{i}", FnsResidualBlock(128))
        self.deconv1, self.in4 = FnsUpsampleConvLayer(128, 64, 3, 1, 2), norm(64)
        self.deconv2, self.in5 = FnsUpsampleConvLayer(64, 32, 3, 1, 2), norm(32)
        self.deconv3 = FnsConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, 6):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)

    def stylize(self, content_0_255):
        """The example's inference: 0-255 in, clamp(0, 255) out."""
        with torch.no_grad():
            return self.forward(content_0_255).clamp(0, 255)


class OrigResnetBlock(nn.Module):
    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super().__init__()
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class OriginalCycleGANGenerator(nn.Module):
    """``ResnetGenerator`` of the CycleGAN repository, one ``nn.Sequential`` called ``model``."""

    def __init__(self, ngf=64, n_blocks=9, norm="instance", use_dropout=False):
        super().__init__()
        if norm == "instance":
            norm_layer = lambda c: nn.InstanceNorm2d(c, affine=False)  # noqa: E731
            use_bias = True
        else:
            norm_layer = nn.BatchNorm2d
            use_bias = False
        model = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=use_bias), norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            model += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        model += [OrigResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, padding=1, output_padding=1, bias=use_bias),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)

    def translate(self, image_0_255):
        """The original test-time path: [0, 255] -> [-1, 1] -> G -> [-1, 1] -> [0, 255]."""
        with torch.no_grad():
            return (self.forward(image_0_255 / 127.5 - 1.0) + 1.0) * 127.5


def randomize_affine_(module: nn.Module) -> nn.Module:
    """Non-trivial norm affine parameters, so a mis-mapped norm key cannot go unnoticed."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("weight") and param.dim() == 1:
                param.uniform_(0.5, 1.5)
            elif name.endswith("bias") and param.dim() == 1:
                param.uniform_(-0.5, 0.5)
    return module
