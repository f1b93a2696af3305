from .tokens_to_feature_map import TokensToFeatureMap

__all__ = ['TokensToFeatureMap']
