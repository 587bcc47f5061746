"""Matplotlib figures. Every function returns a Figure and never calls plt.show()."""
