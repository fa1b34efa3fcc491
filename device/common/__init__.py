"""device/common"""
