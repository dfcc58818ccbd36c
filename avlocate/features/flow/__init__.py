"""Optical flow for the I3D flow stream (RAFT-large, torchvision architecture, original weights)."""
from .raft import RaftConfig, build_raft, convert_original_raft, load_raft, pairwise_flow, raft_flow

__all__ = ["RaftConfig", "build_raft", "convert_original_raft", "load_raft", "pairwise_flow", "raft_flow"]
