// The 下载中心's PKCS#11 driver hints: which module the key assistant loads for a holder's key.
// Only drivers whose module names are public and stable are listed; for any other key the holder is
// told to install the vendor's own driver from the key's CD/vendor site, whose module the CA names
// in the assistant's configuration (certdesk agent-config sign --pkcs11-module).
import type { KeyDriverHint } from './shapes.js';

export const KEY_DRIVER_HINTS: KeyDriverHint[] = [
  {
    vendor: '飞天诚信 (Feitian)',
    vendorEn: 'Feitian',
    keys: 'ePass2003',
    linux: '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so (Debian/Ubuntu: apt install opensc)',
    windows: 'opensc-pkcs11.dll (OpenSC for Windows)',
    macos: '/Library/OpenSC/lib/opensc-pkcs11.so (OpenSC for macOS)',
    note: 'OpenSC 支持 ePass2003；飞天诚信自带驱动亦可，以其 PKCS#11 库为准。',
    noteEn: "OpenSC supports the ePass2003; Feitian's own driver works too, through its PKCS#11 library.",
  },
  {
    vendor: 'Yubico',
    vendorEn: 'Yubico',
    keys: 'YubiKey 5 (PIV)',
    linux: '/usr/lib/x86_64-linux-gnu/libykcs11.so (apt install ykcs11) or OpenSC',
    windows: 'libykcs11.dll (Yubico PIV Tool)',
    macos: '/usr/local/lib/libykcs11.dylib (Yubico PIV Tool)',
    note: 'PIV 应用中的密钥与证书。',
    noteEn: 'Keys and certificates in the PIV application.',
  },
  {
    vendor: '其他 UKey 厂商',
    vendorEn: 'Other key vendors',
    keys: '—',
    linux: '厂商驱动中的 PKCS#11 库 (.so)',
    windows: '厂商驱动中的 PKCS#11 库 (.dll)',
    macos: '厂商驱动中的 PKCS#11 库 (.dylib)',
    note: '请安装 UKey 随附或厂商网站提供的驱动；本 CA 支持的驱动已写入协卡助手的配置，安装后即被识别。',
    noteEn:
      "Install the driver that came with the key or from the vendor's site; the drivers this CA supports are named in the assistant's configuration and are found once installed.",
  },
];
