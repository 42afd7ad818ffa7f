// A file the holder picked, as the portal API takes uploads: { fileName, contentBase64 }.
export type FileUpload = { fileName: string; contentBase64: string };

export async function readUpload(file: File): Promise<FileUpload> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { fileName: file.name, contentBase64: btoa(bin) };
}
