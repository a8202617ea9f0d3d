export { compressImage, progressQuery } from './compress-image.js';
export { decompressImage } from './decompress-image.js';
export { bulkArchive, summaryQuery } from './bulk-archive.js';
import './versioning.js';
