"""Vexilo: the payments platform's internal toolkit."""
