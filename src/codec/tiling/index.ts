export { TileSpec, type TileSpecInput, type AxisTiles, type TileGrid, axisTiles, tileGrid, axisWeights, axisNormaliser, tileEdges } from './grid.js';
export { TileBlender, cutTile, scaled, type Layout } from './blend.js';
export { TiledPredictor, tiledPredictor } from './tiled-predictor.js';
