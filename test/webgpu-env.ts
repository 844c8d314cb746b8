// WebGPU in tests: onnxruntime-node's WebGPU provider reaches Vulkan through the loader (Debian's libvulkan1,
// which .ci/run installs). Unless the caller chose a driver, tests use SwiftShader, the CPU Vulkan driver
// Debian's chromium ships, so they run the same on machines with and without a GPU. Imported before any
// WebGPU session opens: the loader reads these when the first one does.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

if (!process.env.VK_ICD_FILENAMES) {
  if (!existsSync(SWIFTSHADER)) throw new Error(`WebGPU tests: ${SWIFTSHADER} not found; install Debian's chromium (SwiftShader) or set VK_ICD_FILENAMES to a Vulkan driver`);
  process.env.VK_ICD_FILENAMES = SWIFTSHADER;
}
// The Vulkan loader complains on every start without it.
process.env.XDG_RUNTIME_DIR ??= tmpdir();
